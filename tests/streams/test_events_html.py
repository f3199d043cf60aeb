"""HTML tables of changes and diffs for notebooks: rows, captions, escaping and the row cap."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

from confighub import ConfigChange, ConfigDiff, TracePoint
from confighub.events._html import MAX_ROWS, change_html, diff_html
from confighub.testing import TracePointFactory

MINUS = "\N{MINUS SIGN}"
TS = 1_700_000_000_123_456_789  # 2023-11-14 22:13:20.123 UTC
OLD_HASH = "0123456789abcdef"
NEW_HASH = "fedcba9876543210"
EVIL = 'a < b && c > "d"'
TAGS = {"table", "caption", "span", "thead", "tbody", "tr", "th", "td", "br"}


class Table(HTMLParser):
    """One rendered table as a reader sees it: caption, header and rows of cell texts."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.caption = ""
        self.header: list[str] = []
        self.rows: list[list[str]] = []
        self.row_attrs: list[dict[str, str | None]] = []
        self._in_caption = False
        self._in_head = False
        self._cell: list[str] | None = None
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)
        if tag == "caption":
            self._in_caption = True
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and not self._in_head:
            self.rows.append([])
            self.row_attrs.append(dict(attrs))
        elif tag in {"td", "th"}:
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption":
            self._in_caption = False
        elif tag == "thead":
            self._in_head = False
        elif tag in {"td", "th"} and self._cell is not None:
            (self.header if self._in_head else self.rows[-1]).append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._in_caption:
            self.caption += data
        elif self._cell is not None:
            self._cell.append(data)


@dataclass(frozen=True)
class Trigger:
    """Stands in for a Deep agent's trigger object: an id, no TracePoint API, an odd repr."""

    id: str
    line: int

    def __repr__(self) -> str:
        return f"<Trigger {self.id} line {self.line} & co>"


def tp(id: str, line: int, **args: str) -> TracePoint:
    return TracePoint(id, "app.py", line, args)


def sample_change() -> ConfigChange:
    keep = tp("keep", 1)
    gone = tp("gone", 2)
    before = tp("edit", 3, condition="x > 1")
    after = tp("edit", 3, condition="x > 2", fire_count="-1")
    logger = tp("logger", 4, snapshot="no_collect", log_msg="total={total}")
    method = tp("method", 5, method_name="handle")
    return ConfigChange(TS, OLD_HASH, NEW_HASH, (keep, gone, before), (keep, after, logger, method))


def test_change_rows_list_added_then_removed_then_changed_with_their_fields() -> None:
    """One row per touched item: mark, id, path:line, actions, then condition or field changes."""
    table = Table(change_html(sample_change()))
    assert table.header == ["", "id", "where", "actions", "details"]
    assert table.rows == [
        ["+", "logger", "app.py:4", "log", ""],
        ["+", "method", "app.py:5 handle()", "snapshot", ""],
        [MINUS, "gone", "app.py:2", "snapshot", ""],
        [
            "~",
            "edit",
            "app.py:3",
            "snapshot",
            "args.condition: x > 1 → x > 2\nargs.fire_count: — → -1",
        ],
    ]
    assert [attrs["title"] for attrs in table.row_attrs] == ["added", "added", "removed", "changed"]


def test_change_caption_gives_time_hashes_counts_and_live_items() -> None:
    """The caption reads UTC time, short hashes old → new, the counts per kind, live items."""
    markup = change_html(sample_change())
    caption = Table(markup).caption
    assert caption == f"2023-11-14 22:13:20.123 UTC · 01234567 → fedcba98 · +2 {MINUS}1 ~1 · 4 live"
    assert f'title="{OLD_HASH}"' in markup
    assert f'title="{NEW_HASH}"' in markup


def test_first_config_shows_no_old_hash() -> None:
    """A change from no config (old_hash None) shows ∅ for the old hash and every item as added."""
    table = Table(change_html(ConfigChange(TS, None, NEW_HASH, (), (tp("a", 1),))))
    assert "∅ → fedcba98 · +1 " in table.caption
    assert [row[:2] for row in table.rows] == [["+", "a"]]


def test_added_item_shows_its_condition() -> None:
    """An added or removed tracepoint with a condition shows it in the details column."""
    change = ConfigChange(
        TS, OLD_HASH, NEW_HASH, (tp("old", 1, condition="y"),), (tp("new", 2, condition="x"),)
    )
    assert [row[4] for row in Table(change_html(change)).rows] == ["if x", "if y"]


def test_values_from_the_config_are_escaped() -> None:
    """Ids, conditions and log messages holding markup reach the reader as text, never as HTML."""
    evil_id = '<script>alert("x")</script>'
    added = tp(evil_id, 1, condition=EVIL)
    before = tp("edit", 2, snapshot="no_collect", log_msg="plain")
    after = tp("edit", 2, snapshot="no_collect", log_msg="<b>total</b> & 'more'", condition=EVIL)
    markup = change_html(ConfigChange(TS, OLD_HASH, NEW_HASH, (before,), (added, after)))
    assert EVIL not in markup
    assert "<script" not in markup
    assert "<b>" not in markup
    table = Table(markup)
    assert set(table.tags) <= TAGS
    assert table.rows == [
        ["+", evil_id, "app.py:1", "snapshot", f"if {EVIL}"],
        [
            "~",
            "edit",
            "app.py:2",
            "log",
            f"args.condition: — → {EVIL}\nargs.log_msg: plain → <b>total</b> & 'more'",
        ],
    ]


def test_items_that_are_not_tracepoints_show_their_repr() -> None:
    """A Deep agent's trigger objects (and id-less items) show their escaped repr."""
    old = (Trigger("a", 1),)
    new = (Trigger("a", 2), Trigger("b", 1), "oops <x>")
    markup = change_html(ConfigChange(TS, OLD_HASH, NEW_HASH, old, new))
    assert "<Trigger" not in markup
    assert Table(markup).rows == [
        ["+", "b", "", "", "<Trigger b line 1 & co>"],
        ["+", "'oops <x>'", "", "", "'oops <x>'"],
        ["~", "a", "", "", "<Trigger a line 1 & co> → <Trigger a line 2 & co>"],
    ]


def test_empty_change_and_empty_diff_say_so() -> None:
    """A change or diff with nothing added, removed or changed has one row that says so."""
    same = (tp("a", 1),)
    change = Table(change_html(ConfigChange(TS, OLD_HASH, NEW_HASH, same, same)))
    diff = Table(diff_html(ConfigDiff({}, {}, {})))
    for table in (change, diff):
        assert table.rows == [["no change: nothing added, removed or changed"]]
        assert table.header == []
    assert change.caption.endswith(f"+0 {MINUS}0 ~0 · 1 live")
    assert diff.caption == f"+0 {MINUS}0 ~0"


def test_diff_table_has_the_change_rows_under_a_counts_only_caption() -> None:
    """A ConfigDiff renders the same rows as its change, with only the counts above them."""
    change = sample_change()
    table = Table(diff_html(change.diff))
    assert table.caption == f"+2 {MINUS}1 ~1"
    assert table.rows == Table(change_html(change)).rows


def test_a_huge_change_shows_the_first_rows_and_counts_the_rest(
    make_tracepoint: TracePointFactory,
) -> None:
    """Thousands of touched tracepoints give MAX_ROWS rows and an “N more” row, not megabytes."""
    new = tuple(make_tracepoint(id=f"tp-{n}") for n in range(2000))
    markup = change_html(ConfigChange(TS, OLD_HASH, NEW_HASH, (), new))
    rows = Table(markup).rows
    assert MAX_ROWS == 50
    assert len(rows) == MAX_ROWS + 1
    assert [row[1] for row in rows[:MAX_ROWS]] == [f"tp-{n}" for n in range(MAX_ROWS)]
    assert rows[-1] == ["… and 1950 more not shown"]
    assert len(markup) < 50_000


def test_the_cap_spans_added_removed_and_changed_in_order() -> None:
    """The cap counts rows of every kind: added fill first, then removed, then changed."""
    old = [tp(f"r{n}", n) for n in range(30)] + [tp(f"c{n}", n) for n in range(30)]
    new = [tp(f"a{n}", n) for n in range(30)] + [tp(f"c{n}", n, fire_count="5") for n in range(30)]
    rows = Table(diff_html(ConfigDiff.between(old, new))).rows
    assert len(rows) == MAX_ROWS + 1
    assert [row[0] for row in rows[:MAX_ROWS]] == ["+"] * 30 + [MINUS] * 20
    assert rows[MAX_ROWS - 1][1] == "r19"
    assert rows[-1] == ["… and 40 more not shown"]


def test_styles_are_inline_and_tints_are_translucent() -> None:
    """No stylesheet, class or link leaks into the notebook; row colours are translucent tints."""
    markup = change_html(sample_change())
    table = Table(markup)
    assert {"style", "link", "script"}.isdisjoint(table.tags)
    assert "class" not in {name for name, _ in table.attrs}
    for attrs in table.row_attrs:
        assert attrs["style"] is not None
        assert attrs["style"].startswith("background: rgba(")
        assert attrs["style"].endswith(", 0.15)")


def test_repr_html_is_the_module_rendering() -> None:
    """The Jupyter hook of ConfigChange and ConfigDiff returns what change_html and diff_html."""
    change = sample_change()
    assert change._repr_html_() == change_html(change)
    assert change.diff._repr_html_() == diff_html(change.diff)
