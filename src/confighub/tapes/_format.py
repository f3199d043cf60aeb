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
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import is_
from pathlib import Path
from typing import IO, Any, Final

from confighub._version import __version__
from confighub.events import ConfigChange, Item, new_change
from confighub.events._diffing import diff_parts
from confighub.exceptions import InvalidTracePoint, TapeError
from confighub.model import TracePoint

__all__ = ["FORMAT", "VERSION", "Decoder", "Encoder", "TapeHeader", "read_header"]

FORMAT: Final = "confighub-tape"
VERSION: Final = 1
"""The tape version this confighub writes, and the newest it reads."""

_MISSING: Final = object()
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


def _to_json(item: Item) -> dict[str, Any]:
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
                return base64.b64decode(value[_BYTES], validate=True)
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


class Encoder:
    """Turns each change of a stream into its tape line, as a delta from the one before.

    It keeps the last config by id, updated by each delta as the decoder will
    update its own, so a change costs a pass over the config's positions, not a
    rebuilt index.
    """

    def __init__(self) -> None:
        self._last: tuple[Item, ...] = ()
        # ``_last`` by id, in order; None when its ids repeat.
        self._by_id: dict[str, Item] | None = {}

    def line(self, change: ConfigChange) -> str:
        """The tape line (with its newline) for ``change``."""
        record: dict[str, Any] = {
            "ts": change.ts,
            "old_hash": change.old_hash,
            "new_hash": change.new_hash,
        }
        if change.old is not self._last and change.old != self._last:
            record["old"] = [_to_json(item) for item in change.old]
            self._reset(change.old)
        new = change.new
        delta = self._delta(new)
        if delta is None:
            record["config"] = [_to_json(item) for item in new]
            self._reset(new)
        else:
            record.update(delta)
            self._last = new
        return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"

    def _reset(self, config: tuple[Item, ...]) -> None:
        self._last = config
        by_id = {item.id: item for item in config}
        self._by_id = by_id if len(by_id) == len(config) else None

    def _delta(self, new: tuple[Item, ...]) -> dict[str, Any] | None:
        """The delta from ``_last`` to ``new`` (applied to ``_by_id``), or None if none gives it."""
        by_id = self._by_id
        if by_id is None:
            return None  # repeated ids: a removal or change could not say which one it means
        added, removed, changed = diff_parts(self._last, new, by_id)
        delta: dict[str, Any] = {}
        positions = None
        if added:
            delta["added"] = [_to_json(item) for item in added.values()]
            tail = new[len(new) - len(added) :]
            if not all(map(is_, tail, added.values())):
                fresh = {id(item) for item in added.values()}
                positions = delta["positions"] = [
                    at for at, item in enumerate(new) if id(item) in fresh
                ]
        if removed:
            delta["removed"] = list(removed)
        after = [item for _, item in changed.values()]
        if changed:
            delta["changed"] = [_to_json(item) for item in after]
        try:
            rebuilt = apply_delta(by_id, removed, after, added.values(), positions=positions)
        except ValueError:
            return None
        self._by_id = rebuilt
        if len(rebuilt) != len(new) or not all(map(is_, rebuilt.values(), new)):
            return None  # kept tracepoints moved, or ids repeat: only the full config says so
        return delta


def apply_delta(
    by_id: dict[str, Item],
    removed: Iterable[str],
    changed: Iterable[Item],
    added: Iterable[Item],
    *,
    positions: Sequence[int] | None,
) -> dict[str, Item]:
    """Apply a delta to a config held as an id → item dict (in config order); return it.

    ``by_id`` is updated in place unless ``positions`` puts an added item
    anywhere but the end. Raises ``ValueError`` saying why when the delta does
    not apply: a removed or changed id that is not there, an added one that
    already is, a position out of range.
    """
    for key in removed:
        if by_id.pop(key, _MISSING) is _MISSING:
            raise ValueError(f"removes {key!r}, which is not in the config")
    for item in changed:
        if item.id not in by_id:
            raise ValueError(f"changes {item.id!r}, which is not in the config")
        by_id[item.id] = item
    fresh = list(added)
    for item in fresh:
        if item.id in by_id:
            raise ValueError(f"adds {item.id!r}, which is already in the config")
    if positions is None:
        for item in fresh:
            by_id[item.id] = item
        return by_id
    if len(positions) != len(fresh):
        raise ValueError(f"has {len(positions)} positions for {len(fresh)} added tracepoints")
    items = list(by_id.values())
    for at, item in zip(positions, fresh, strict=True):
        if type(at) is not int or not 0 <= at <= len(items):
            raise ValueError(f"adds {item.id!r} at position {at!r}, outside the config")
        items.insert(at, item)
    rebuilt = {item.id: item for item in items}
    if len(rebuilt) != len(items):
        raise ValueError("adds an id twice")
    return rebuilt


def _tracepoints(path: str, number: int, record: dict[str, Any], key: str) -> list[Item]:
    value = record.get(key)
    if value is None:
        return []
    if type(value) is not list:
        raise TapeError(path, number, f"{key!r} must be a list of tracepoints, not {value!r}")
    try:
        return [_tracepoint(data) for data in value]
    except InvalidTracePoint as err:
        raise TapeError(path, number, f"{key!r} holds an {err}") from None
    except binascii.Error as err:
        raise TapeError(path, number, f"{key!r} holds bad base64 bytes: {err}") from None


class Decoder:
    """Rebuilds the changes of a tape, line by line, from their deltas."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._current: tuple[Item, ...] = ()
        # The current config by id, in order; None when ids repeat (only a full config follows).
        self._by_id: dict[str, Item] | None = {}

    def change(self, number: int, line: str) -> ConfigChange:
        """The change that line ``number``, ``line``, stores; a ``TapeError`` if it cannot."""
        record = parse_line(self.path, number, line)
        if type(record) is not dict:
            raise TapeError(self.path, number, f"an event must be a JSON object, not {record!r}")
        ts = record.get("ts")
        old_hash = record.get("old_hash")
        new_hash = record.get("new_hash")
        if type(ts) is not int:
            raise TapeError(self.path, number, f"'ts' must be ns since the epoch, not {ts!r}")
        if not (old_hash is None or type(old_hash) is str):
            raise self._not_hash(number, "old_hash", old_hash)
        if not (new_hash is None or type(new_hash) is str):
            raise self._not_hash(number, "new_hash", new_hash)
        if "old" in record:
            self._reset(_tracepoints(self.path, number, record, "old"))
        old = self._current
        if "config" in record:
            self._reset(_tracepoints(self.path, number, record, "config"))
        else:
            self._current = tuple(self._apply(number, record).values())
        return new_change((ts, old_hash, new_hash, old, self._current))

    def _not_hash(self, number: int, name: str, value: object) -> TapeError:
        return TapeError(self.path, number, f"{name!r} must be a string or null, not {value!r}")

    def _reset(self, items: list[Item]) -> None:
        self._current = tuple(items)
        by_id = {item.id: item for item in items}
        self._by_id = by_id if len(by_id) == len(items) else None

    def _apply(self, number: int, record: dict[str, Any]) -> dict[str, Item]:
        removed = record.get("removed", ())
        positions = record.get("positions")
        if not (type(removed) is list or removed == ()):
            raise TapeError(self.path, number, f"'removed' must be a list of ids, not {removed!r}")
        if not (positions is None or type(positions) is list):
            raise TapeError(
                self.path, number, f"'positions' must be a list of indexes, not {positions!r}"
            )
        changed = _tracepoints(self.path, number, record, "changed") if "changed" in record else ()
        added = _tracepoints(self.path, number, record, "added") if "added" in record else ()
        if self._by_id is None:
            raise TapeError(
                self.path, number, "the delta does not apply: the config before it repeats ids"
            )
        try:
            self._by_id = apply_delta(self._by_id, removed, changed, added, positions=positions)
        except (ValueError, TypeError) as err:
            raise TapeError(self.path, number, f"the delta does not apply: it {err}") from None
        return self._by_id


def open_lines(path: str | Path) -> IO[str]:
    """The tape at ``path`` opened for reading line by line, newlines kept as written."""
    return open(path, encoding="utf-8", newline="")
