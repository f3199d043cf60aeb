"""What the commands print: changes as rich text and as JSON lines, a config, tables.

Every cell of a table is a ``Text``, never markup: ids, paths and resources come from
files and servers, and a ``[`` in one must show as itself.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from confighub._internal.text import counted, cut, short_hash
from confighub.events import ConfigChange, Item
from confighub.events._wording import action_names, field_changes, location, summary, tally
from confighub.model import TracePoint

# The tape's JSON form of a tracepoint: `--json` writes bytes as tapes do, {"$bytes": base64}.
from confighub.tapes._format import to_json as _tracepoint_json

__all__ = [
    "agents_summary",
    "agents_table",
    "ago",
    "change_record",
    "console",
    "render_change",
    "render_config",
    "tracepoint_table",
]

# gRPC names a peer ``ipv4:127.0.0.1:50000``; the address says the family already.
_PEER_FAMILY: Final = re.compile(r"^ipv[46]:")
_COLUMN_GAP: Final = 3
"""Between two columns of a ``box.SIMPLE_HEAD`` table: a space either side of a hidden rule."""
_RESOURCE_MIN: Final = 12
"""Columns an agent's resource keeps however narrow the terminal."""
_RESOURCE_SHOWN: Final = 200
"""Characters of a resource kept for a table cell, which ends it in an ellipsis where narrower."""
_UNITS: Final = (("d", 86400), ("h", 3600), ("min", 60))


def console(*, stderr: bool = False) -> Console:
    """A console that wraps lines only on a terminal.

    Written to a file, a pipe or a journal, rich would break every line at 80
    columns, in the middle of a message; there nobody reads at a width.
    """
    out = Console(stderr=stderr, highlight=False)
    out.soft_wrap = not out.is_terminal
    return out


def _clock(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1e9, tz=UTC).strftime("%H:%M:%S.%f")[:-3]


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


def render_config(items: Iterable[Item]) -> Text:
    """A config as a line per item, as ``check`` shows a file (no change, so no clock)."""
    text = Text()
    for item in items:
        text.append(f"  {summary(item)}\n")
    return text


def change_record(change: ConfigChange) -> dict[str, Any]:
    """A change as plain JSON data: hashes, and what was added, removed and changed.

    Tracepoints appear in the tape's form of the file format (``TracePoint.to_dict``,
    with a bytes value as ``{"$bytes": "<base64>"}``); other items as their ``repr``.
    """
    diff = change.diff
    return {
        "ts": change.ts,
        "old_hash": change.old_hash,
        "new_hash": change.new_hash,
        "added": [_as_json(item) for item in diff.added.values()],
        "removed": list(diff.removed),
        "changed": [
            {"id": key, "before": _as_json(before), "after": _as_json(after)}
            for key, (before, after) in diff.changed.items()
        ],
        "live": len(change.new),
    }


def _as_json(item: Item) -> Any:
    return _tracepoint_json(item) if isinstance(item, TracePoint) else repr(item)


def _table(*columns: str, shortened: Collection[str] = ()) -> Table:
    # Ids fold onto more lines, whole; a ``shortened`` column (a resource) ends in an ellipsis.
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in columns:
        if column in shortened:
            table.add_column(column, no_wrap=True, overflow="ellipsis")
        else:
            table.add_column(column, overflow="fold")
    return table


def tracepoint_table(tracepoints: Iterable[TracePoint]) -> Table:
    """A row per tracepoint: its id, where it is (``path:line``) and what it does."""
    table = _table("ID", "WHERE", "ACTIONS")
    for tp in tracepoints:
        condition = f" if {tp.condition}" if tp.condition else ""
        table.add_row(Text(tp.id), Text(location(tp)), Text(action_names(tp) + condition))
    return table


def ago(seconds: float) -> str:
    """How long ago, for people: ``3 s ago``, ``4 min ago``, ``2 h ago``, ``5 d ago``."""
    if not math.isfinite(seconds):
        return "?"
    if seconds < 0:
        return "just now"  # the server's clock is ahead of this one
    for unit, size in _UNITS:
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return f"{int(seconds)} s ago"


def _seconds_since(stamp: object, now: float) -> float:
    """Seconds from an RFC 3339 time (as the server writes ``lastSeen``) to ``now``; nan if bad."""
    try:
        return now - datetime.fromisoformat(str(stamp)).timestamp()
    except ValueError:
        return math.nan


def _resource(value: object) -> str:
    if isinstance(value, Mapping):
        value = ", ".join(f"{key}={item}" for key, item in value.items())
    return str(value or "-")[:_RESOURCE_SHOWN]


def agents_table(
    agents: Sequence[Mapping[str, Any]], now: float, width: int | None = None
) -> Table:
    """A row per agent: tenant, peer, resource, hash, converged or behind, since, last seen.

    The tenant column is left out when no agent has one (tenancy off).

    Within ``width`` columns (a console's), the resource is shortened, the rest kept whole.
    """
    tenants = any(agent.get("tenant") for agent in agents)
    headers = ("TENANT", "PEER", "RESOURCE", "HASH", "STATE", "SINCE", "LAST SEEN")[
        0 if tenants else 1 :
    ]
    table = _table(*headers, shortened={"RESOURCE"})
    rows = [
        (
            *((Text(cut(str(agent.get("tenant") or "-"), 60)),) if tenants else ()),
            Text(cut(_PEER_FAMILY.sub("", str(agent.get("peer", "?"))), 60)),
            Text(_resource(agent.get("resource"))),
            Text(short_hash(str(agent.get("hash") or ""))),
            Text("converged", style="green")
            if agent.get("converged") is True
            else Text("behind", style="yellow"),
            Text(ago(_seconds_since(agent.get("since"), now))),
            Text(ago(_seconds_since(agent.get("lastSeen"), now))),
        )
        for agent in agents
    ]
    for row in rows:
        table.add_row(*row)
    # Every column but the resource keeps its width; a narrow terminal shortens the resource.
    kept = 0
    for index, column in enumerate(table.columns):
        if column.header != "RESOURCE":
            column.min_width = max([len(str(column.header)), *(len(row[index]) for row in rows)])
            kept += column.min_width + _COLUMN_GAP
    if width is not None:
        kept -= _COLUMN_GAP  # gaps are between columns: one fewer than the columns kept
        table.columns[headers.index("RESOURCE")].max_width = max(_RESOURCE_MIN, width - kept)
    return table


def agents_summary(agents: Sequence[Mapping[str, Any]]) -> str:
    """``12 agents: 11 converged, 1 behind``."""
    converged = sum(1 for agent in agents if agent.get("converged") is True)
    return (
        f"{counted(len(agents), 'agent')}: {converged} converged, {len(agents) - converged} behind"
    )
