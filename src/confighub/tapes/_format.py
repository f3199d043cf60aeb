"""The tape format: a JSONL file of config changes, each stored as a delta.

Line 1 is the header::

    {"format": "confighub-tape", "version": 1, "source": "127.0.0.1:43315",
     "started": 1732885200000000000, "confighub": "0.1.0"}

Every other line is one ``ConfigChange``::

    {"ts": 1732885201000000000, "old_hash": "9f…", "new_hash": "a3…",
     "added": [{"id": "tp-9", "path": "shop/cart.py", "line": 7}],
     "removed": ["tp-2"],
     "changed": [{"id": "tp-1", "path": "shop/cart.py", "line": 12, "args": {…}}]}

A delta applies to the previous event's ``new`` config (nothing, for the
first event, whose ``added`` is therefore the full config): ``removed`` ids
leave it, ``changed`` tracepoints replace the one with their id in place, and
``added`` ones are appended, or inserted at the indexes ``positions`` gives
when they do not all go at the end. Two optional keys cover what a delta
cannot say: ``old`` (the full old config, when a change does not start where
the previous one ended: the first change of a recording started mid-stream,
or a filtered stream) and ``config`` (the full new config instead of a
delta, when its order or repeated ids would not survive one). Tracepoints
are in the file format of ``TracePoint.to_dict``, except that a bytes value
(JSON has none) is written ``{"$bytes": "<base64>"}``, and a mapping that
would read as such a marker is wrapped as ``{"$map": {…}}``. An
empty list is left out; unknown keys are ignored.

A line is UTF-8, at most ``MAX_LINE`` bytes with its newline; times (``ts``,
``started``) fit in a signed 64-bit integer, as on the wire. A reader refuses
anything else as a ``TapeError`` naming the line, never another exception.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

from confighub._internal.text import shown
from confighub._version import __version__
from confighub.events import Item
from confighub.exceptions import InvalidTracePoint, TapeError
from confighub.model import TracePoint

__all__ = [
    "FORMAT",
    "MAX_LINE",
    "TIMES",
    "VERSION",
    "TapeHeader",
    "check_time",
    "numbered_lines",
    "open_tape",
    "parse_line",
    "read_header",
    "to_json",
    "tracepoints",
]

FORMAT: Final = "confighub-tape"
VERSION: Final = 1
"""The tape version this confighub writes, and the newest it reads."""

MAX_LINE: Final = 64 * 2**20
"""The longest line a reader takes, in bytes: far past a full config of 100,000 tracepoints."""

TIMES: Final = range(-(2**63), 2**63)
"""The times a tape holds: ns since the epoch in a signed 64-bit integer, as on the wire."""

_BYTES: Final = "$bytes"
_MAP: Final = "$map"
_MARKERS: Final = frozenset({_BYTES, _MAP})
_MAY_HOLD_BYTES: Final = frozenset({"metrics", "targeting"})  # where bytes values may be


@dataclass(frozen=True, slots=True)
class TapeHeader:
    """The first line of a tape: what was recorded, from where, and when it started.

    ``started`` is ns since the epoch, the unit of ``ConfigChange.ts``; replay
    times each event from it. ``extra`` keeps any other header keys.
    """

    started: int
    source: str | None = None
    confighub: str = __version__
    version: int = VERSION
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def started_at(self) -> datetime:
        """``started`` as a UTC datetime."""
        return datetime.fromtimestamp(self.started / 1e9, tz=UTC)

    def to_json(self) -> dict[str, Any]:
        """The header line's JSON object."""
        return {
            "format": FORMAT,
            "version": self.version,
            "source": self.source,
            "started": self.started,
            "confighub": self.confighub,
            **self.extra,
        }


def open_tape(path: str | Path) -> IO[bytes]:
    """The tape at ``path``, opened for ``numbered_lines``."""
    return open(path, "rb")


def numbered_lines(path: str, file: IO[bytes]) -> Iterator[tuple[int, str]]:
    """Each line of ``file`` with its number (from 1), decoded; newlines kept as written.

    A line longer than ``MAX_LINE`` (or not UTF-8) is a ``TapeError`` naming it, and
    what a long line holds past the bound is never read.
    """
    for number in itertools.count(1):
        raw = file.readline(MAX_LINE + 1)
        if not raw:
            return
        if len(raw) > MAX_LINE:
            raise TapeError(path, number, f"longer than {MAX_LINE:,} bytes: not a line of a tape")
        try:
            # Decoded line by line, not by the file: a text file decodes ahead in chunks, and
            # a bad byte a few lines on would fail the line before it.
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            reason = f"not UTF-8: byte {raw[err.start]:#04x} at byte {err.start + 1} of the line"
            raise TapeError(path, number, reason) from None
        yield number, text


def check_time(path: str, number: int, name: str, value: object) -> int:
    """``value`` as a time in ns since the epoch, or a ``TapeError`` saying why it is none."""
    if type(value) is not int:
        raise TapeError(path, number, f"{name!r} must be ns since the epoch, not {shown(value)}")
    if value not in TIMES:
        raise TapeError(
            path, number, f"{name!r} must fit in a signed 64-bit integer, not {shown(value)}"
        )
    return value


def read_header(path: str, lines: Iterator[tuple[int, str]]) -> TapeHeader:
    """Read and check the header from the first of ``lines``; ``path`` names the tape in errors."""
    first = next(lines, None)
    if first is None:
        raise TapeError(path, 1, "empty file: a tape starts with a confighub-tape header")
    data = parse_line(path, 1, first[1])
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise TapeError(path, 1, f'missing header: line 1 is not {{"format": "{FORMAT}", …}}')
    version = data.get("version")
    if type(version) is not int or version < 1:
        raise TapeError(path, 1, f"header version must be a positive integer, not {shown(version)}")
    if version > VERSION:
        raise TapeError(
            path,
            1,
            f"tape version {version} is newer than this confighub ({__version__}) reads"
            f" (up to {VERSION}); upgrade confighub",
        )
    started = check_time(path, 1, "started", data.get("started"))
    source = data.get("source")
    if not (source is None or type(source) is str):
        raise TapeError(path, 1, f"header 'source' must be a string or null, not {shown(source)}")
    made_by = data.get("confighub", "")
    if type(made_by) is not str:
        raise TapeError(path, 1, f"header 'confighub' must be a string, not {shown(made_by)}")
    known = {"format", "version", "started", "source", "confighub"}
    return TapeHeader(
        started=started,
        source=source,
        confighub=made_by,
        version=version,
        extra={key: value for key, value in data.items() if key not in known},
    )


_DECODER: Final = json.JSONDecoder()


def parse_line(path: str, number: int, line: str) -> Any:
    """``json.loads`` one line, as a ``TapeError`` naming the line when it is not JSON."""
    # A recorded line is one JSON value and its newline: raw_decode reads it without the
    # two whitespace scans of loads. Anything else (whitespace around, an error) takes
    # loads, which decides what the line holds and why it is not JSON.
    try:
        value, end = _DECODER.raw_decode(line)
        if end == len(line) or (end == len(line) - 1 and line[end] == "\n"):
            return value
    except (ValueError, RecursionError):
        pass
    try:
        return json.loads(line)
    except json.JSONDecodeError as err:
        if not line.endswith("\n"):
            reason = "truncated: the tape ends in the middle of an event"
        else:
            reason = f"not valid JSON: {err.msg} (column {err.colno})"
    except ValueError:
        # The one other ValueError json raises: an integer past Python's str → int bound.
        limit = sys.get_int_max_str_digits()
        reason = f"not valid JSON here: an integer of more than {limit} digits"
    except RecursionError:
        reason = "not valid JSON here: nested too deeply"
    raise TapeError(path, number, reason) from None


def to_json(item: Item) -> dict[str, Any]:
    """The tape form of a tracepoint, which ``tracepoints`` reads back."""
    if not isinstance(item, TracePoint):
        raise TypeError(f"a tape holds TracePoint items, not {type(item).__name__}: {item!r}")
    data = item.to_dict()
    for key in _MAY_HOLD_BYTES & data.keys():
        data[key] = _escaped(data[key])
    return data


def _escaped(value: Any) -> Any:
    # JSON has no bytes: they are written {"$bytes": base64}. A mapping that could be read
    # as such a marker (its one key "$bytes" or "$map") is written {"$map": mapping}.
    if isinstance(value, bytes):
        return {_BYTES: base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        escaped = {key: _escaped(item) for key, item in value.items()}
        return {_MAP: escaped} if len(value) == 1 and value.keys() <= _MARKERS else escaped
    if isinstance(value, list):
        return [_escaped(item) for item in value]
    return value


def _unescaped(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            if type(value.get(_BYTES)) is str:
                text = value[_BYTES]
                if not text.isascii():  # b64decode takes no other, with a ValueError of its own
                    raise binascii.Error("only ASCII characters are base64")
                return base64.b64decode(text, validate=True)
            if type(value.get(_MAP)) is dict:
                return {key: _unescaped(item) for key, item in value[_MAP].items()}
        return {key: _unescaped(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unescaped(item) for item in value]
    return value


def _tracepoint(data: Any) -> TracePoint:
    if type(data) is dict and ("targeting" in data or "metrics" in data):
        data = {**data, **{key: _unescaped(data[key]) for key in _MAY_HOLD_BYTES & data.keys()}}
    return TracePoint.from_dict(data)


def tracepoints(path: str, number: int, record: dict[str, Any], key: str) -> list[Item]:
    """The tracepoints ``record`` holds at ``key`` (none if absent), or a ``TapeError``."""
    value = record.get(key)
    if value is None:
        return []
    if type(value) is not list:
        raise TapeError(path, number, f"{key!r} must be a list of tracepoints, not {shown(value)}")
    try:
        return [_tracepoint(data) for data in value]
    except InvalidTracePoint as err:
        reason = f"{key!r} holds an {err}"
    except binascii.Error as err:
        reason = f"{key!r} holds bad base64 bytes: {err}"
    except RecursionError:
        # JSON as deep as the parser takes can still be too deep to unescape and validate.
        reason = f"{key!r} holds a value nested too deeply"
    raise TapeError(path, number, reason) from None
