"""``safe_url`` and ``shown_url``: a URL as a message may show it, its secrets left out."""

from __future__ import annotations

import re
from typing import Final

from confighub._internal.text import cut, shown

__all__ = ["safe_url", "shown_url"]

_SCHEME: Final = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*):(?P<rest>.*)", re.DOTALL)


def safe_url(url: str) -> str:
    """``url`` without its userinfo and its query, cut to 120 characters.

    Up to the *last* ``@`` goes, not the first: a password written without escaping
    may hold ``@`` or ``/`` itself, and too much cut from a message is better than a
    password shown.
    """
    match = _SCHEME.fullmatch(url)
    scheme, rest = (match["scheme"] + ":", match["rest"]) if match is not None else ("", url)
    slashes = "//" if rest.startswith("//") else ""
    rest = rest.removeprefix(slashes)
    if "@" in rest:
        rest = "***@" + rest.rpartition("@")[2]
    for mark in "?#":
        if mark in rest:
            rest = rest.partition(mark)[0] + mark + "…"
    return cut(scheme + slashes + rest, 120)


def shown_url(url: str) -> str:
    """``safe_url(url)`` quoted, as an error message names what it was given."""
    return shown(safe_url(url), 130)
