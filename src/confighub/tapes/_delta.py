"""The lines of a tape: each change as a delta from the one before, and back.

See ``confighub.tapes._format`` for the format. A delta holds what changed by
value: a source that builds every config afresh (a wire or a file source
parses each update into new objects) records the tracepoints that changed, not
the whole config each time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from operator import is_
from typing import Any, Final

from confighub._internal.text import shown
from confighub.events import ConfigChange, Item, new_change
from confighub.events._diffing import diff_parts
from confighub.exceptions import TapeError
from confighub.model import TracePoint
from confighub.tapes._format import TIMES, check_time, parse_line, to_json, tracepoints

__all__ = ["Decoder", "Encoder", "apply_delta"]

_MISSING: Final = object()


def _alike(old: Item, new: Item) -> bool:
    """Whether two items that are ``==`` hold values of the same types too."""
    # == takes 1, 1.0 and True for one another, and only targeting and metric labels can
    # hold such values; the digest (cached, for a config that was hashed) tells them apart.
    if isinstance(old, TracePoint) and (old.targeting or old.metrics):
        return old.digest == new.digest  # type: ignore[no-any-return]
    return True


def _same(old: Item, new: Item) -> bool:
    """Whether a replay may give back ``old`` for ``new``: the same object, or value."""
    return old is new or (old == new and _alike(old, new))


def _same_config(old: tuple[Item, ...], new: tuple[Item, ...]) -> bool:
    return old is new or (len(old) == len(new) and all(map(_same, old, new)))


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
        """The tape line (with its newline) for ``change``.

        Raises ``ValueError`` for a ``ts`` that is no 64-bit integer (which no reader
        takes) and ``TypeError`` for an item that is no ``TracePoint``.
        """
        if type(change.ts) is not int or change.ts not in TIMES:
            raise ValueError(
                f"a tape's ts must fit in a signed 64-bit integer (ns since the epoch),"
                f" not {shown(change.ts)}"
            )
        record: dict[str, Any] = {
            "ts": change.ts,
            "old_hash": change.old_hash,
            "new_hash": change.new_hash,
        }
        if not _same_config(change.old, self._last):
            record["old"] = [to_json(item) for item in change.old]
            self._reset(change.old)
        new = change.new
        delta = self._delta(new)
        if delta is None:
            record["config"] = [to_json(item) for item in new]
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
            delta["added"] = [to_json(item) for item in added.values()]
            tail = new[len(new) - len(added) :]
            if not all(map(is_, tail, added.values())):
                fresh = {id(item) for item in added.values()}
                positions = delta["positions"] = [
                    at for at, item in enumerate(new) if id(item) in fresh
                ]
        if removed:
            delta["removed"] = list(removed)
        after = [item for _, item in changed.values()]
        try:
            rebuilt = apply_delta(by_id, removed, after, added.values(), positions=positions)
        except ValueError:
            return None
        self._by_id = rebuilt
        if len(rebuilt) != len(new):
            return None  # ids repeat: only the full config says so
        if not all(map(is_, rebuilt.values(), new)):
            # Built afresh, or kept tracepoints moved: what is not the same object must be
            # the same value, or one whose value alone changed.
            retyped = _settle(rebuilt, new)
            if retyped is None:
                return None
            after += retyped
        if after:
            delta["changed"] = [to_json(item) for item in after]
        return delta


def _settle(rebuilt: dict[str, Item], new: tuple[Item, ...]) -> list[Item] | None:
    """Make ``rebuilt`` hold ``new``'s objects; the items whose value changed all the same.

    ``rebuilt`` is the delta applied, so an item of it that ``new`` has under its id
    and is not the same object is one the diff found ``==``. None if ``rebuilt`` is
    not ``new`` in order: a kept tracepoint moved.
    """
    retyped = []
    for (key, kept), item in zip(list(rebuilt.items()), new, strict=True):
        if kept is item:
            continue
        if key != item.id:
            return None
        if not _alike(kept, item):
            retyped.append(item)  # a difference == does not see, as 1 → True
        # The decoder keeps its equal object; the encoder holds the source's, and no other.
        rebuilt[key] = item
    return retyped


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
            raise ValueError(f"removes {shown(key)}, which is not in the config")
    for item in changed:
        if item.id not in by_id:
            raise ValueError(f"changes {shown(item.id)}, which is not in the config")
        by_id[item.id] = item
    fresh = list(added)
    for item in fresh:
        if item.id in by_id:
            raise ValueError(f"adds {shown(item.id)}, which is already in the config")
    if positions is None:
        for item in fresh:
            by_id[item.id] = item
        return by_id
    if len(positions) != len(fresh):
        raise ValueError(f"has {len(positions)} positions for {len(fresh)} added tracepoints")
    items = list(by_id.values())
    for at, item in zip(positions, fresh, strict=True):
        if type(at) is not int or not 0 <= at <= len(items):
            raise ValueError(f"adds {shown(item.id)} at position {shown(at)}, outside the config")
        items.insert(at, item)
    rebuilt = {item.id: item for item in items}
    if len(rebuilt) != len(items):
        raise ValueError("adds an id twice")
    return rebuilt


class Decoder:
    """Rebuilds the changes of a tape, line by line, from their deltas."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._current: tuple[Item, ...] = ()
        # The current config by id, in order; None when ids repeat (only a full config follows).
        self._by_id: dict[str, Item] | None = {}

    def change(self, number: int, line: str) -> ConfigChange:
        """The change that line ``number``, ``line``, stores; a ``TapeError`` if it cannot."""
        path = self.path
        record = parse_line(path, number, line)
        if type(record) is not dict:
            raise TapeError(path, number, f"an event must be a JSON object, not {shown(record)}")
        ts = check_time(path, number, "ts", record.get("ts"))
        old_hash = record.get("old_hash")
        new_hash = record.get("new_hash")
        if not (old_hash is None or type(old_hash) is str):
            raise self._not_hash(number, "old_hash", old_hash)
        if not (new_hash is None or type(new_hash) is str):
            raise self._not_hash(number, "new_hash", new_hash)
        if "old" in record:
            self._reset(tracepoints(path, number, record, "old"))
        old = self._current
        if "config" in record:
            self._reset(tracepoints(path, number, record, "config"))
        else:
            self._current = tuple(self._apply(number, record).values())
        return new_change((ts, old_hash, new_hash, old, self._current))

    def _not_hash(self, number: int, name: str, value: object) -> TapeError:
        return TapeError(
            self.path, number, f"{name!r} must be a string or null, not {shown(value)}"
        )

    def _reset(self, items: list[Item]) -> None:
        self._current = tuple(items)
        by_id = {item.id: item for item in items}
        self._by_id = by_id if len(by_id) == len(items) else None

    def _apply(self, number: int, record: dict[str, Any]) -> dict[str, Item]:
        path = self.path
        removed = record.get("removed", ())
        positions = record.get("positions")
        if not (removed == () or (type(removed) is list and all(type(k) is str for k in removed))):
            raise TapeError(path, number, f"'removed' must be a list of ids, not {shown(removed)}")
        if not (positions is None or type(positions) is list):
            raise TapeError(
                path, number, f"'positions' must be a list of indexes, not {shown(positions)}"
            )
        changed = tracepoints(path, number, record, "changed") if "changed" in record else ()
        added = tracepoints(path, number, record, "added") if "added" in record else ()
        if self._by_id is None:
            raise TapeError(
                path, number, "the delta does not apply: the config before it repeats ids"
            )
        try:
            self._by_id = apply_delta(self._by_id, removed, changed, added, positions=positions)
        except (ValueError, TypeError) as err:
            raise TapeError(path, number, f"the delta does not apply: it {err}") from None
        return self._by_id
