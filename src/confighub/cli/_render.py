"""What the commands print: changes as rich text and as JSON lines, a config, counted nouns."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.text import Text

from confighub._internal.text import short_hash
from confighub.events import ConfigChange, Item
from confighub.events._wording import field_changes, summary, tally
from confighub.model import TracePoint

# The tape's JSON form of a tracepoint: `--json` writes bytes as tapes do, {"$bytes": base64}.
from confighub.tapes._format import to_json as _tracepoint_json

__all__ = ["change_record", "console", "render_change", "render_config"]


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
