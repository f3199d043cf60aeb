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
are in the file format of ``TracePoint.to_dict``. An empty list is left out;
unknown keys are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import is_
from pathlib import Path
from typing import IO, Any, Final

from confighub._diffing import diff_parts, index
from confighub._version import __version__
from confighub.events import ConfigChange, Item
from confighub.exceptions import InvalidTracePoint, TapeError
from confighub.model import TracePoint

__all__ = ["FORMAT", "VERSION", "Decoder", "Encoder", "TapeHeader", "read_header"]

FORMAT: Final = "confighub-tape"
VERSION: Final = 1


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


def read_header(path: str, lines: Iterator[str]) -> TapeHeader:
    """Read and check the header from the first of ``lines``; ``path`` names the tape in errors."""
    first = next(lines, None)
    if first is None:
        raise TapeError(path, 1, "empty file: a tape starts with a confighub-tape header")
    data = parse_line(path, 1, first)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise TapeError(path, 1, f'missing header: line 1 is not {{"format": "{FORMAT}", …}}')
    version = data.get("version")
    if type(version) is not int or version < 1:
        raise TapeError(path, 1, f"header version must be a positive integer, not {version!r}")
    if version > VERSION:
        raise TapeError(
            path,
            1,
            f"tape version {version} is newer than this confighub ({__version__}) reads"
            f" (up to {VERSION}); upgrade confighub",
        )
    started = data.get("started")
    if type(started) is not int:
        raise TapeError(path, 1, f"header 'started' must be ns since the epoch, not {started!r}")
    source = data.get("source")
    known = {"format", "version", "started", "source", "confighub"}
    return TapeHeader(
        started=started,
        source=None if source is None else str(source),
        confighub=str(data.get("confighub", "")),
        version=version,
        extra={key: value for key, value in data.items() if key not in known},
    )


def parse_line(path: str, number: int, line: str) -> Any:
    """``json.loads`` one line, as a ``TapeError`` naming the line when it is not JSON."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as err:
        if not line.endswith("\n"):
            reason = "truncated: the tape ends in the middle of an event"
        else:
            reason = f"not valid JSON: {err.msg} (column {err.colno})"
        raise TapeError(path, number, reason) from None


def _plain(item: Item) -> dict[str, Any]:
    if not isinstance(item, TracePoint):
        raise TypeError(f"a tape holds TracePoint items, not {type(item).__name__}: {item!r}")
    return item.to_dict()


class Encoder:
    """Turns each change of a stream into its tape line, as a delta from the one before."""

    def __init__(self) -> None:
        self._last: tuple[Item, ...] = ()

    def line(self, change: ConfigChange) -> str:
        """The tape line (with its newline) for ``change``."""
        record: dict[str, Any] = {
            "ts": change.ts,
            "old_hash": change.old_hash,
            "new_hash": change.new_hash,
        }
        base = self._last
        if change.old is not base and change.old != base:
            record["old"] = [_plain(item) for item in change.old]
            base = change.old
        delta = _delta(base, change.new)
        if delta is None:
            record["config"] = [_plain(item) for item in change.new]
        else:
            record.update(delta)
        self._last = change.new
        return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def _delta(base: tuple[Item, ...], new: tuple[Item, ...]) -> dict[str, Any] | None:
    """The delta from ``base`` to ``new``, or None when applying it would not give ``new``."""
    if not (index(base)[1] and index(new)[1]):
        return None  # repeated ids: a removal or change could not say which one it means
    added, removed, changed = diff_parts(base, new)
    delta: dict[str, Any] = {}
    if added:
        delta["added"] = [_plain(item) for item in added.values()]
    if removed:
        delta["removed"] = list(removed)
    if changed:
        delta["changed"] = [_plain(after) for _, after in changed.values()]
    positions = None
    if added:
        fresh = {id(item) for item in added.values()}
        positions = [at for at, item in enumerate(new) if id(item) in fresh]
        if positions == list(range(len(new) - len(added), len(new))):
            positions = None
        else:
            delta["positions"] = positions
    items = list(base)
    keys = [item.id for item in base]
    try:
        after = [item for _, item in changed.values()]
        apply_delta(items, keys, list(removed), after, list(added.values()), positions=positions)
    except ValueError:
        return None
    if len(items) != len(new) or not all(map(is_, items, new)):
        return None  # kept tracepoints moved: only the full config keeps their order
    return delta


def apply_delta(
    items: list[Item],
    keys: list[str],
    removed: Sequence[str],
    changed: Sequence[Item],
    added: Sequence[Item],
    *,
    positions: Sequence[int] | None,
) -> None:
    """Apply a delta to ``items`` (and their ids, ``keys``) in place.

    Raises ``ValueError`` saying why when it does not apply: a removed or
    changed id that is not there, an added one that already is, a position
    out of range.
    """
    for key in removed:
        try:
            at = keys.index(key)
        except ValueError:
            raise ValueError(f"removes {key!r}, which is not in the config") from None
        del keys[at], items[at]
    for item in changed:
        try:
            at = keys.index(item.id)
        except ValueError:
            raise ValueError(f"changes {item.id!r}, which is not in the config") from None
        items[at] = item
    if positions is not None and len(positions) != len(added):
        raise ValueError(f"has {len(positions)} positions for {len(added)} added tracepoints")
    for number, item in enumerate(added):
        if item.id in keys:
            raise ValueError(f"adds {item.id!r}, which is already in the config")
        at = len(items) if positions is None else positions[number]
        if not 0 <= at <= len(items):
            raise ValueError(f"adds {item.id!r} at position {at}, past the end of the config")
        keys.insert(at, item.id)
        items.insert(at, item)


def _tracepoints(path: str, number: int, record: Mapping[str, Any], key: str) -> list[Item]:
    value = record.get(key, ())
    if type(value) is not list and value != ():
        raise TapeError(path, number, f"{key!r} must be a list of tracepoints, not {value!r}")
    try:
        return [TracePoint.from_dict(data) for data in value]
    except InvalidTracePoint as err:
        raise TapeError(path, number, f"{key!r} holds an {err}") from None


class Decoder:
    """Rebuilds the changes of a tape, line by line, from their deltas."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._items: list[Item] = []
        self._keys: list[str] = []
        self._current: tuple[Item, ...] = ()

    def change(self, number: int, record: Any) -> ConfigChange:
        """The change that line ``number`` (already parsed into ``record``) stores."""
        path = self.path
        if type(record) is not dict:
            raise TapeError(path, number, f"an event must be a JSON object, not {record!r}")
        ts = record.get("ts")
        old_hash = record.get("old_hash")
        new_hash = record.get("new_hash")
        if type(ts) is not int:
            raise TapeError(path, number, f"'ts' must be ns since the epoch, not {ts!r}")
        for name, value in (("old_hash", old_hash), ("new_hash", new_hash)):
            if value is not None and type(value) is not str:
                raise TapeError(path, number, f"{name!r} must be a string or null, not {value!r}")
        old = self._current
        if "old" in record:
            self._items = _tracepoints(path, number, record, "old")
            self._keys = [item.id for item in self._items]
            old = tuple(self._items)
        if "config" in record:
            self._items = _tracepoints(path, number, record, "config")
            self._keys = [item.id for item in self._items]
        else:
            self._apply(number, record)
        new = self._current = tuple(self._items)
        return ConfigChange(ts, old_hash, new_hash, old, new)

    def _apply(self, number: int, record: dict[str, Any]) -> None:
        removed = record.get("removed", ())
        positions = record.get("positions")
        if type(removed) is not list and removed != ():
            raise TapeError(self.path, number, f"'removed' must be a list of ids, not {removed!r}")
        if positions is not None and type(positions) is not list:
            raise TapeError(
                self.path, number, f"'positions' must be a list of indexes, not {positions!r}"
            )
        changed = _tracepoints(self.path, number, record, "changed")
        added = _tracepoints(self.path, number, record, "added")
        try:
            apply_delta(self._items, self._keys, removed, changed, added, positions=positions)
        except (ValueError, TypeError) as err:
            raise TapeError(self.path, number, f"the delta does not apply: it {err}") from None


def open_lines(path: str | Path) -> IO[str]:
    """The tape at ``path`` opened for reading line by line, newlines kept as written."""
    return open(path, encoding="utf-8", newline="")
