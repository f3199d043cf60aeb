"""Config changes as pandas DataFrames: one row per change, or one per tracepoint it touched.

pandas comes with the ``notebooks`` extra and is imported only when a frame
is built, so importing this module never needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from confighub.events import ConfigChange, Item
from confighub.notebook._inputs import Changes, changes_of, needs_extra

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["to_dataframe"]

_PER = ("event", "tracepoint")
_EVENT_DTYPES = {
    "old_hash": "object",
    "new_hash": "object",
    "added": "int64",
    "removed": "int64",
    "changed": "int64",
    "live": "int64",
}
_TRACEPOINT_DTYPES = {
    "new_hash": "object",
    "id": "object",
    "change": "object",
    "path": "object",
    # Nullable: an item without an integer ``line`` (not a tracepoint) reads as <NA>.
    "line": "Int64",
}


def to_dataframe(events: Changes, *, per: Literal["event", "tracepoint"] = "event") -> pd.DataFrame:
    """The changes as a DataFrame, one row per change (``per="event"``) or per touched item.

    ``events`` is any iterable of ``ConfigChange`` (a list, a tape from
    ``read_tape``) or a ``VirtualRun`` (its times are dropped: ``ts`` is kept).

    ``per="event"``: columns ``time`` (UTC Timestamp of ``ts``), ``ts`` (ns),
    ``old_hash``, ``new_hash``, the counts ``added``, ``removed``, ``changed``,
    and ``live`` (items in the new config).

    ``per="tracepoint"``: one row per item each change added, removed or
    changed, in that order within a change: ``time``, ``ts``, ``new_hash``,
    ``id`` (the diff key), ``change`` (``"added"``, ``"removed"`` or
    ``"changed"``), and the item's ``path`` and ``line`` (from the item after a
    change, the removed item for a removal; None and <NA> for items without
    them).

    >>> cart = TracePoint("cart", "shop/cart.py", 17)
    >>> frame = to_dataframe([ConfigChange(1_700_000_000_000_000_000, None, "h1", (), (cart,))])
    >>> frame[["time", "added", "live"]].to_dict("records")
    [{'time': Timestamp('2023-11-14 22:13:20+0000', tz='UTC'), 'added': 1, 'live': 1}]
    >>> to_dataframe(read_tape("today.tape.jsonl")).plot(x="time", y="live")  # doctest: +SKIP
    """
    if per not in _PER:
        raise ValueError(f"to_dataframe: per must be 'event' or 'tracepoint', got {per!r}")
    with needs_extra("to_dataframe", "pandas"):
        import pandas as pd  # noqa: PLC0415

    changes = changes_of(events)
    rows = _event_rows(changes) if per == "event" else _tracepoint_rows(changes)
    dtypes = _EVENT_DTYPES if per == "event" else _TRACEPOINT_DTYPES
    ts = pd.Series([row[0] for row in rows], dtype="int64")
    columns: dict[str, Any] = {"time": pd.to_datetime(ts, unit="ns", utc=True), "ts": ts}
    for position, (name, dtype) in enumerate(dtypes.items(), start=1):
        columns[name] = pd.Series([row[position] for row in rows], dtype=dtype)
    return pd.DataFrame(columns)


def _event_rows(changes: list[ConfigChange]) -> list[tuple[Any, ...]]:
    rows = []
    for change in changes:
        diff = change.diff
        rows.append(
            (
                change.ts,
                change.old_hash,
                change.new_hash,
                len(diff.added),
                len(diff.removed),
                len(diff.changed),
                len(change.new),
            )
        )
    return rows


def _tracepoint_rows(changes: list[ConfigChange]) -> list[tuple[Any, ...]]:
    rows = []
    for change in changes:
        diff = change.diff
        touched: list[tuple[str, str, Item]] = [
            *(("added", key, item) for key, item in diff.added.items()),
            *(("removed", key, item) for key, item in diff.removed.items()),
            *(("changed", key, after) for key, (_, after) in diff.changed.items()),
        ]
        for kind, key, item in touched:
            rows.append((change.ts, change.new_hash, key, kind, *_where(item)))
    return rows


def _where(item: Item) -> tuple[str | None, int | None]:
    # Duck-typed like only_paths, so a Deep agent's trigger objects get theirs too.
    path = getattr(item, "path", None)
    line = getattr(item, "line", None)
    return (
        path if isinstance(path, str) else None,
        line if isinstance(line, int) and not isinstance(line, bool) else None,
    )
