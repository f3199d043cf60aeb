"""The words and marks that describe a change, shared by the CLI, HTML tables and plots."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from confighub.events._diffing import Item
from confighub.model import TracePoint

if TYPE_CHECKING:
    from confighub.events._change import ConfigDiff

__all__ = ["MINUS_SIGN", "action_names", "field_changes", "location", "summary", "tally"]

MINUS_SIGN: Final = "\N{MINUS SIGN}"
"""For the counts in tables and plots, where a hyphen between them reads as a dash."""


def tally(diff: ConfigDiff, minus: str = "-") -> str:
    """A diff's counts, ``+added -removed ~changed``; ``minus`` may be ``MINUS_SIGN``."""
    return f"+{len(diff.added)} {minus}{len(diff.removed)} ~{len(diff.changed)}"


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
