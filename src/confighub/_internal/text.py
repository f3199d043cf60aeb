"""How confighub shows hashes and values in messages, logs, tables and plots.

Two rules hold everywhere: a hash is shown by one length, and a value from outside (a file,
a request, a tape) is shown cut to a bound, so one bad input cannot make an error message,
a log line or ``hub.status`` as big as itself. This module imports nothing of confighub, so
that even ``exceptions`` can use it.
"""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from typing import Final

__all__ = ["SHOWN_HASH_LENGTH", "SHOWN_VALUE_LENGTH", "counted", "cut", "short_hash", "shown"]

SHOWN_HASH_LENGTH: Final = 8
"""Hex digits of a hash shown to people; the full hash goes where it is copied from."""

SHOWN_VALUE_LENGTH: Final = 200
"""Characters of a value shown in a message; the rest is cut and counted."""


class _BoundedRepr(reprlib.Repr):
    """reprlib's limits, and an integer too long to print named by its size, not raised."""

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 200:  # about 60 digits: beyond, CPython may refuse str(x)
            return f"<an integer of about {int(x.bit_length() * 0.30103) + 1} digits>"
        return super().repr_int(x, level)

    def repr1(self, x: object, level: int) -> str:
        # Mappings of our own (FrozenMap) print through their builtin repr, which has no limit.
        if isinstance(x, Mapping) and not isinstance(x, dict):
            return f"{type(x).__name__}({self.repr_dict(x, level)})"  # type: ignore[arg-type]
        return super().repr1(x, level)


_REPR = _BoundedRepr()  # keyword arguments need Python 3.12; attributes work on 3.11
_REPR.maxlevel = 3
_REPR.maxtuple = _REPR.maxlist = _REPR.maxarray = _REPR.maxdict = 8
_REPR.maxset = _REPR.maxfrozenset = _REPR.maxdeque = 8
_REPR.maxstring = _REPR.maxother = SHOWN_VALUE_LENGTH


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``1 tracepoint``, ``2 tracepoints``: every count shown to people goes through here."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def short_hash(value: str | None) -> str:
    """The first ``SHOWN_HASH_LENGTH`` characters of a hash, or ``∅`` for no config."""
    return value[:SHOWN_HASH_LENGTH] if value else "∅"


def shown(value: object, limit: int = SHOWN_VALUE_LENGTH) -> str:
    """``repr(value)`` cut to about ``limit`` characters, saying how much was left out.

    The repr is built with :mod:`reprlib`'s limits on depth, items and digits, so a value
    of millions of characters (an expanded YAML alias bomb, a huge integer) costs no more
    to show than a small one.
    """
    text = _REPR.repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def cut(text: str, limit: int = SHOWN_VALUE_LENGTH) -> str:
    """A text from outside (a server's details, an error's words) cut to ``limit`` characters."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"
