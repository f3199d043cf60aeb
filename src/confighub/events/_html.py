"""HTML tables of changes and diffs, for Jupyter's rich display (``_repr_html_``).

One row per item: a kind mark (plus added, minus removed, tilde changed), the
id, where the tracepoint sits, its actions, and the details (its condition, or
for a changed item one ``field: old → new`` line per field). Items that are not
tracepoints (a Deep agent's triggers) show their repr.

Everything taken from a config is escaped. Styles are inline, so nothing leaks
into the notebook's page, and colours are translucent tints over the theme's own
text colour, so a table reads on light and dark themes alike. At most
``MAX_ROWS`` items get a row: a change that touches thousands of tracepoints
stays a small table that ends with a row saying how many more there are.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from html import escape
from itertools import islice
from typing import TYPE_CHECKING, Final, NamedTuple

from confighub._internal.text import short_hash
from confighub.events._diffing import Item
from confighub.events._wording import (
    MINUS_SIGN,
    action_names,
    field_changes,
    location,
    summary,
    tally,
)
from confighub.model import TracePoint

if TYPE_CHECKING:
    from confighub.events._change import ConfigChange, ConfigDiff

__all__ = ["MAX_ROWS", "change_html", "diff_html"]

MAX_ROWS: Final = 50
"""Items shown per table; the rest are counted in a final row."""

_COLUMNS: Final = ("", "id", "where", "actions", "details")
_TABLE: Final = (
    "border-collapse: collapse; font-family: var(--jp-code-font-family, monospace);"
    " font-size: 0.9em"
)
# Jupyter's stylesheet right-aligns table cells; a diff reads better left-aligned.
_CELL: Final = "padding: 2px 8px; text-align: left; vertical-align: top; border: none"
_CAPTION: Final = "caption-side: top; text-align: left; padding: 2px 8px; font-weight: bold"


class _Kind(NamedTuple):
    mark: str
    name: str
    rgb: str


# A true minus sign, as wide as the plus and the tilde it is aligned with.
_ADDED: Final = _Kind("+", "added", "46, 160, 67")
_REMOVED: Final = _Kind(MINUS_SIGN, "removed", "218, 54, 51")
_CHANGED: Final = _Kind("~", "changed", "212, 167, 44")


def change_html(change: ConfigChange) -> str:
    """A change as an HTML table under a caption: time, hashes, counts and live items."""
    diff = change.diff
    hashes = f"{_hash(change.old_hash)} → {_hash(change.new_hash)}"
    caption = (
        f"{_timestamp(change.ts)} · {hashes} · {tally(diff, MINUS_SIGN)} · {len(change.new)} live"
    )
    return _table(caption, diff)


def diff_html(diff: ConfigDiff) -> str:
    """A diff as an HTML table under a caption with its counts."""
    return _table(tally(diff, MINUS_SIGN), diff)


def _table(caption: str, diff: ConfigDiff) -> str:
    # ``caption`` is already HTML; every other value is escaped where it is placed.
    parts = [f'<table style="{_TABLE}">', f'<caption style="{_CAPTION}">{caption}</caption>']
    if diff.empty:
        parts.append(_wide_row("no change: nothing added, removed or changed"))
    else:
        header = "".join(f'<th style="{_CELL}">{name}</th>' for name in _COLUMNS)
        parts.append(f"<thead><tr>{header}</tr></thead><tbody>")
        # Rows are built lazily, so only the shown ones are formatted.
        parts.extend(islice(_rows(diff), MAX_ROWS))
        hidden = len(diff.added) + len(diff.removed) + len(diff.changed) - MAX_ROWS
        if hidden > 0:
            parts.append(_wide_row(f"… and {hidden} more not shown"))
        parts.append("</tbody>")
    parts.append("</table>")
    return "".join(parts)


def _rows(diff: ConfigDiff) -> Iterator[str]:
    for key, item in diff.added.items():
        yield _row(_ADDED, key, item, _details(item))
    for key, item in diff.removed.items():
        yield _row(_REMOVED, key, item, _details(item))
    for key, (before, after) in diff.changed.items():
        yield _row(_CHANGED, key, after, field_changes(before, after))


def _details(item: Item) -> list[str]:
    if not isinstance(item, TracePoint):
        return [summary(item)]
    return [f"if {item.condition}"] if item.condition else []


def _row(kind: _Kind, key: str, item: Item, details: list[str]) -> str:
    placed = isinstance(item, TracePoint)
    cells = [
        f'<span style="color: rgb({kind.rgb}); font-weight: bold">{kind.mark}</span>',
        escape(key),
        escape(location(item)) if placed else "",
        escape(action_names(item)) if placed else "",
        "<br>".join(escape(line) for line in details),
    ]
    body = "".join(f'<td style="{_CELL}">{cell}</td>' for cell in cells)
    return f'<tr title="{kind.name}" style="background: rgba({kind.rgb}, 0.15)">{body}</tr>'


def _wide_row(text: str) -> str:
    return f'<tr><td colspan="{len(_COLUMNS)}" style="{_CELL}">{escape(text)}</td></tr>'


def _hash(value: str | None) -> str:
    # The full hash on hover, for copying; the short one to read.
    return f'<span title="{escape(value or "")}">{escape(short_hash(value))}</span>'


def _timestamp(ts: int) -> str:
    # Unlike the CLI's clock, with the date: a notebook often shows changes recorded on another day.
    return datetime.fromtimestamp(ts / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"
