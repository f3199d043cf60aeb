"""Readable, coloured renderings of changes for the command line."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.text import Text

from confighub.events import ConfigChange, ConfigDiff, Item
from confighub.model import TracePoint

__all__ = [
    "MINUS_SIGN",
    "action_names",
    "change_record",
    "field_changes",
    "location",
    "render_change",
    "short_hash",
    "summary",
    "tally",
]


MINUS_SIGN = "\N{MINUS SIGN}"
"""For the counts in tables and plots, where a hyphen between them reads as a dash."""


def tally(diff: ConfigDiff, minus: str = "-") -> str:
    """A diff's counts, ``+added -removed ~changed``; ``minus`` may be ``MINUS_SIGN``."""
    return f"+{len(diff.added)} {minus}{len(diff.removed)} ~{len(diff.changed)}"


def short_hash(value: str | None) -> str:
    """The first 8 characters of a hash, or ``∅`` for no config."""
    return value[:8] if value else "∅"


def _clock(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1e9, tz=UTC).strftime("%H:%M:%S.%f")[:-3]


def location(item: TracePoint) -> str:
    """Where a tracepoint sits: ``path:line``, then ``method()`` when it wraps one."""
    where = f"{item.path}:{item.line}"
    return f"{where} {item.method_name}()" if item.method_name else where


def action_names(item: TracePoint) -> str:
    """What firing a tracepoint does, as sorted comma-separated names (``log,metric``)."""
    return ",".join(sorted(item.actions))


def summary(item: Item) -> str:
    """One line for an item: id, location, actions and condition of a tracepoint, else its repr."""
    if not isinstance(item, TracePoint):
        return repr(item)
    extra = f" if {item.condition}" if item.condition else ""
    return f"{item.id}  {location(item)}  [{action_names(item)}]{extra}"


def field_changes(before: Item, after: Item) -> list[str]:
    """One ``field: old → new`` line per field that differs (``args.key`` for mapping fields).

    Items that are not both tracepoints give the single line ``repr → repr``.
    """
    if not (isinstance(before, TracePoint) and isinstance(after, TracePoint)):
        return [f"{before!r} → {after!r}"]
    old, new = before.to_dict(), after.to_dict()
    lines: list[str] = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if isinstance(a, dict) or isinstance(b, dict):
            a_map = a if isinstance(a, dict) else {}
            b_map = b if isinstance(b, dict) else {}
            for sub in sorted(a_map.keys() | b_map.keys()):
                if a_map.get(sub) != b_map.get(sub):
                    lines.append(f"{key}.{sub}: {a_map.get(sub, '—')} → {b_map.get(sub, '—')}")
        else:
            lines.append(f"{key}: {a if a is not None else '—'} → {b if b is not None else '—'}")
    return lines


def render_change(change: ConfigChange, label: str = "") -> Text:
    """One change as a header line and a line per added, removed or changed item."""
    diff = change.diff
    text = Text()
    if label:
        text.append(f"[{label}] ", style="bold magenta")
    text.append(_clock(change.ts), style="dim")
    text.append(f"  {short_hash(change.old_hash)} → {short_hash(change.new_hash)}", style="cyan")
    text.append(
        f"  {tally(diff)}  ({len(change.new)} live)\n",
        style="bold",
    )
    for item in diff.added.values():
        text.append(f"  + {summary(item)}\n", style="green")
    for item in diff.removed.values():
        text.append(f"  - {summary(item)}\n", style="red")
    for key, (before, after) in diff.changed.items():
        text.append(f"  ~ {key}\n", style="yellow")
        for line in field_changes(before, after):
            text.append(f"      {line}\n", style="yellow")
    return text


def change_record(change: ConfigChange) -> dict[str, Any]:
    """A change as plain JSON data: hashes, and what was added, removed and changed.

    Tracepoints appear in the file format (``TracePoint.to_dict``); other items
    as their ``repr``.
    """
    diff = change.diff
    return {
        "ts": change.ts,
        "old_hash": change.old_hash,
        "new_hash": change.new_hash,
        "added": [_plain(item) for item in diff.added.values()],
        "removed": list(diff.removed),
        "changed": [
            {"id": key, "before": _plain(before), "after": _plain(after)}
            for key, (before, after) in diff.changed.items()
        ],
        "live": len(change.new),
    }


def _plain(item: Item) -> Any:
    return item.to_dict() if isinstance(item, TracePoint) else repr(item)
