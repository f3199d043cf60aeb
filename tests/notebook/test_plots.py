"""The plots, read back from their Axes: bars, markers, rows, labels and limits."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pytest
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Annotation
from reactivex.testing import TestScheduler

from confighub import ConfigChange, TracePoint
from confighub.notebook import (
    plot_before_after,
    plot_strip,
    plot_timeline,
    record_before_after,
)
from confighub.operators import debounce_changes
from confighub.virtual import VirtualRun, changes_from_marbles, run_virtual
from tests.support import chains
from tests.support.chains import SECOND

matplotlib.use("Agg")

T0 = 1_700_000_000_000_000_000  # 2023-11-14 22:13:20 UTC, in ns

CHECKOUT = TracePoint("checkout", "shop/checkout.py", 42)
CART = TracePoint("cart", "shop/cart.py", 17)
CART_2 = TracePoint("cart", "shop/cart.py", 18)
PAY = TracePoint("pay", "shop/payments.py", 30)

# At 0 s add checkout and cart, 10 s edit cart, 20 s remove checkout, 30 s add pay, 40 s add
# checkout again.
TIMELINE_CONFIGS = [
    (CHECKOUT, CART),
    (CHECKOUT, CART_2),
    (CART_2,),
    (CART_2, PAY),
    (CART_2, PAY, CHECKOUT),
]
MARBLE_CONFIGS = {"a": (CHECKOUT,), "b": (CHECKOUT, CART), "c": (CART,), "d": (CART, PAY)}


def chain(configs: Sequence[tuple[Any, ...]], *, start: tuple[Any, ...] = ()) -> list[ConfigChange]:
    """Changes from ``start`` through each config in turn, 10 s apart from T0."""
    return chains.chain(configs, first=T0, step=10 * SECOND, old=start)


def day(ts: int) -> float:
    """``ts`` as matplotlib plots it: days since the epoch."""
    return float(mdates.date2num(np.datetime64(ts, "ns")))  # type: ignore[no-untyped-call]


def xs(line: Line2D) -> list[Any]:
    return list(np.asarray(line.get_xdata()).tolist())


def ys(line: Line2D) -> list[Any]:
    return list(np.asarray(line.get_ydata()).tolist())


def ns(line: Line2D) -> list[int]:
    """The line's datetimes as ns since the epoch."""
    return [int(t) for t in np.asarray(line.get_xdata(), dtype="datetime64[ns]").astype("int64")]


def bars_by_row(ax: Axes) -> dict[int, list[tuple[float, float]]]:
    """Each row's bars as (start, stop) in matplotlib days."""
    rows: dict[int, list[tuple[float, float]]] = {}
    for patch in ax.patches:
        assert isinstance(patch, Rectangle)
        row = round(patch.get_y() + patch.get_height() / 2)
        rows.setdefault(row, []).append((patch.get_x(), patch.get_x() + patch.get_width()))
    return rows


def lines_by_label(ax: Axes) -> dict[str, Line2D]:
    return {str(line.get_label()): line for line in ax.lines}


def yticklabels(ax: Axes) -> list[str]:
    return [label.get_text() for label in ax.get_yticklabels()]


def texts(ax: Axes) -> list[str]:
    return [text.get_text() for text in ax.texts]


def labels_at(ax: Axes) -> list[tuple[str, tuple[float, float]]]:
    """Each annotation's text and the data point it labels."""
    return [(text.get_text(), text.xy) for text in ax.texts if isinstance(text, Annotation)]


@pytest.fixture(autouse=True)
def close_figures() -> Iterator[None]:
    """Every figure a test opens is closed after it."""
    yield
    plt.close("all")


# -- plot_timeline -------------------------------------------------------------------------


def test_timeline_draws_a_bar_per_live_interval_on_rows_in_first_appearance_order() -> None:
    """Checkout is live twice, cart once through its edit, and pay from its addition to until."""
    until = T0 + 60 * SECOND

    ax = plot_timeline(chain(TIMELINE_CONFIGS), until=until)

    assert yticklabels(ax) == ["checkout", "cart", "pay"]
    assert bars_by_row(ax) == {
        0: [
            pytest.approx((day(T0), day(T0 + 20 * SECOND))),
            pytest.approx((day(T0 + 40 * SECOND), day(until))),
        ],
        1: [pytest.approx((day(T0), day(until)))],
        2: [pytest.approx((day(T0 + 30 * SECOND), day(until)))],
    }
    assert ax.get_ylim() == (2.5, -0.5)  # first appearance on top


def test_timeline_marks_each_kind_of_change_where_it_happened() -> None:
    """Added, changed and removed markers sit at the change's time, on the item's row."""
    ax = plot_timeline(chain(TIMELINE_CONFIGS))

    lines = lines_by_label(ax)
    assert ns(lines["added"]) == [T0, T0, T0 + 30 * SECOND, T0 + 40 * SECOND]
    assert ys(lines["added"]) == [0, 1, 2, 0]
    assert ns(lines["changed"]) == [T0 + 10 * SECOND]
    assert ys(lines["changed"]) == [1]
    assert ns(lines["removed"]) == [T0 + 20 * SECOND]
    assert ys(lines["removed"]) == [0]
    kinds = [lines[kind] for kind in ("added", "changed", "removed")]
    assert len({line.get_marker() for line in kinds}) == 3
    assert len({line.get_color() for line in kinds}) == 3
    legend = ax.get_legend()
    assert legend is not None
    assert [text.get_text() for text in legend.get_texts()] == [
        "added",
        "changed",
        "removed",
        "live",
    ]


def test_timeline_without_until_ends_at_the_last_change_and_covers_every_event() -> None:
    """Bars stop at the last change (checkout, re-added then, gets no second bar); x spans all."""
    ax = plot_timeline(chain(TIMELINE_CONFIGS))

    assert bars_by_row(ax) == {
        0: [pytest.approx((day(T0), day(T0 + 20 * SECOND)))],
        1: [pytest.approx((day(T0), day(T0 + 40 * SECOND)))],
        2: [pytest.approx((day(T0 + 30 * SECOND), day(T0 + 40 * SECOND)))],
    }
    left, right = ax.get_xlim()
    assert left < day(T0) < day(T0 + 40 * SECOND) < right
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == (
        "Live tracepoints",
        "time (UTC)",
        "tracepoint id",
    )


def test_timeline_ticks_are_utc_times() -> None:
    """The x axis reads as UTC clock times, concisely, whatever matplotlib's timezone setting."""
    with matplotlib.rc_context({"timezone": "Asia/Tokyo"}):
        ax = plot_timeline(chain(TIMELINE_CONFIGS))
        ax.figure.canvas.draw()

    assert isinstance(ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter)
    assert {"20", "30", "40"} <= {label.get_text() for label in ax.get_xticklabels()}
    assert ax.xaxis.get_offset_text().get_text() == "2023-Nov-14 22:14"


def test_timeline_items_already_live_before_the_first_change_are_live_from_it() -> None:
    """A stream joined mid-way: checkout, in the first old config, is live from the first change."""
    changes = chain([(CHECKOUT, CART), (CART,)], start=(CHECKOUT, PAY))

    ax = plot_timeline(changes, until=T0 + 30 * SECOND)

    assert yticklabels(ax) == ["checkout", "pay", "cart"]
    assert bars_by_row(ax) == {
        0: [pytest.approx((day(T0), day(T0 + 10 * SECOND)))],
        2: [pytest.approx((day(T0), day(T0 + 30 * SECOND)))],
    }
    lines = lines_by_label(ax)
    assert ys(lines["removed"]) == [1, 0]


def test_timeline_until_may_be_a_datetime_naive_meaning_utc() -> None:
    """An aware or naive datetime as until ends the bars where the same ns would."""
    changes = chain(TIMELINE_CONFIGS[:2])
    by_ns = bars_by_row(plot_timeline(changes, until=T0 + 60 * SECOND))

    aware = bars_by_row(
        plot_timeline(changes, until=datetime.fromisoformat("2023-11-14T22:14:20+00:00"))
    )
    naive = bars_by_row(plot_timeline(changes, until=datetime(2023, 11, 14, 22, 14, 20)))

    assert aware == naive == by_ns


def test_timeline_until_before_the_last_change_is_an_error() -> None:
    """An until earlier than the last change would cut bars short: ValueError naming both."""
    with pytest.raises(
        ValueError, match=r"until=.* is before the last change, at 2023-11-14T22:13:30"
    ):
        plot_timeline(chain(TIMELINE_CONFIGS[:2]), until=T0)


def test_timeline_of_nothing_says_no_changes() -> None:
    """No changes: an axes saying so, with no bars or markers."""
    ax = plot_timeline([])

    assert texts(ax) == ["no changes"]
    assert not ax.patches
    assert not ax.lines


def test_timeline_draws_on_the_given_axes_and_reads_recordings() -> None:
    """With ax=, that Axes is drawn on and returned; a VirtualRun is plotted by its ts."""
    fig, given = plt.subplots()
    recording = VirtualRun([(1.0, change) for change in chain(TIMELINE_CONFIGS)], None, None)

    ax = plot_timeline(recording, ax=given)

    assert ax is given
    assert plt.get_fignums() == [fig.number]
    assert ns(lines_by_label(ax)["changed"]) == [T0 + 10 * SECOND]


# -- plot_strip ----------------------------------------------------------------------------


def test_strip_of_recordings_puts_each_event_on_its_row_at_its_virtual_time() -> None:
    """Rows top to bottom in mapping order; markers at the recorded times; a diff label each."""
    scheduler = TestScheduler()
    source = run_virtual(changes_from_marbles("-a-b-c|", MARBLE_CONFIGS), scheduler)
    later = VirtualRun([(4.0, source.values[-1])], 9.0, None)

    ax = plot_strip({"source": source, "later": later})

    assert yticklabels(ax) == ["source", "later"]
    lines = lines_by_label(ax)
    assert xs(lines["source"]) == [1.0, 3.0, 5.0]
    assert ys(lines["source"]) == [0, 0, 0]
    assert xs(lines["later"]) == [4.0]
    assert ys(lines["later"]) == [1]
    assert labels_at(ax) == [
        ("+1 \N{MINUS SIGN}0 ~0", (1.0, 0)),
        ("+1 \N{MINUS SIGN}0 ~0", (3.0, 0)),
        ("+0 \N{MINUS SIGN}1 ~0", (5.0, 0)),
        ("+0 \N{MINUS SIGN}1 ~0", (4.0, 1)),
    ]
    ends = [(line.get_marker(), xs(line)) for line in ax.lines if line.get_label() == "_end"]
    assert ends == [("|", [6.0]), ("|", [9.0])]
    left, right = ax.get_xlim()
    assert left < 1.0
    assert right > 9.0
    assert ax.get_xlabel() == "virtual time (s)"


def test_strip_of_changes_plots_them_at_their_utc_time() -> None:
    """Rows of ConfigChange use ts as UTC datetimes on a shared date axis."""
    changes = chain(TIMELINE_CONFIGS)

    ax = plot_strip({"all": changes, "edits": changes[1:2]})

    lines = lines_by_label(ax)
    assert ns(lines["all"]) == [T0 + n * 10 * SECOND for n in range(5)]
    assert ns(lines["edits"]) == [T0 + 10 * SECOND]
    assert texts(ax)[:2] == ["+2 \N{MINUS SIGN}0 ~0", "+0 \N{MINUS SIGN}0 ~1"]
    assert texts(ax)[-1] == "+0 \N{MINUS SIGN}0 ~1"
    assert ax.get_xlabel() == "time (UTC)"
    left, right = ax.get_xlim()
    assert left < day(T0)
    assert right > day(T0 + 40 * SECOND)


def test_strip_changes_at_one_instant_share_one_label_a_line_each() -> None:
    """A burst at one virtual instant: a marker each, their diffs stacked in one label."""
    scheduler = TestScheduler()
    burst = run_virtual(changes_from_marbles("-(a,b)-c|", MARBLE_CONFIGS), scheduler)
    assert [at for at, _ in burst.events] == [1.0, 1.0, 7.0]

    ax = plot_strip({"burst": burst})

    assert xs(lines_by_label(ax)["burst"]) == [1.0, 1.0, 7.0]
    assert labels_at(ax) == [
        ("+1 \N{MINUS SIGN}0 ~0\n+1 \N{MINUS SIGN}0 ~0", (1.0, 0)),
        ("+0 \N{MINUS SIGN}1 ~0", (7.0, 0)),
    ]


def test_strip_rows_must_be_all_recordings_or_all_changes() -> None:
    """Virtual seconds and timestamps cannot share an axis: mixing them is a ValueError."""
    recording = VirtualRun([(1.0, chain(TIMELINE_CONFIGS)[0])], None, None)

    with pytest.raises(ValueError, match=r"rows mix VirtualRuns .*\['in'\].*\['out'\]"):
        plot_strip({"in": recording, "out": chain(TIMELINE_CONFIGS)})
    with pytest.raises(ValueError, match="rows is empty"):
        plot_strip({})


# -- plot_before_after ---------------------------------------------------------------------


def test_before_after_shows_debounce_emitting_fewer_changes_later() -> None:
    """debounce_changes(3): four changes in, two out, each after the burst it closes."""
    source = changes_from_marbles("-a-b-c--------d------|", MARBLE_CONFIGS)

    ax = plot_before_after(source, debounce_changes(3))

    assert yticklabels(ax) == ["in", "debounce_changes"]
    lines = lines_by_label(ax)
    assert xs(lines["in"]) == [1.0, 3.0, 5.0, 14.0]
    assert xs(lines["debounce_changes"]) == [8.0, 17.0]
    assert ys(lines["debounce_changes"]) == [1, 1]
    out_labels = [text for text, (_, row) in labels_at(ax) if row == 1]
    assert out_labels == ["+1 \N{MINUS SIGN}0 ~0", "+1 \N{MINUS SIGN}0 ~0"]
    assert ax.get_title() == "before and after debounce_changes"


def test_before_after_runs_on_the_given_scheduler_with_the_given_labels() -> None:
    """labels= names the rows; the given scheduler is the one whose time moves."""
    scheduler = TestScheduler()
    source = changes_from_marbles("-a-b|", MARBLE_CONFIGS)

    ax = plot_before_after(source, debounce_changes(1), scheduler=scheduler, labels=("raw", "calm"))

    assert yticklabels(ax) == ["raw", "calm"]
    assert scheduler.clock == 4.0
    with pytest.raises(ValueError, match="labels must differ"):
        plot_before_after(source, debounce_changes(1), labels=("same", "same"))


def unchanged(changes: Any) -> Any:
    """An operator that is a plain module-level function."""
    return changes


def test_before_after_names_an_operator_after_its_function_or_its_factory() -> None:
    """A function is labelled with its name; a closure with the factory that made it."""

    def delayed(seconds: float) -> Any:
        return debounce_changes(seconds)

    ax = plot_before_after(changes_from_marbles("-a|", MARBLE_CONFIGS), unchanged)
    made = plot_before_after(changes_from_marbles("-a|", MARBLE_CONFIGS), delayed(1))

    assert yticklabels(ax) == ["in", "unchanged"]
    assert yticklabels(made) == ["in", "debounce_changes"]


def test_record_before_after_keeps_both_recordings_with_their_endings() -> None:
    """The VirtualRuns behind the plot: timed events, completion, and an error on both sides."""
    source = changes_from_marbles("-a-b-c--------d------|", MARBLE_CONFIGS)

    before, after = record_before_after(source, debounce_changes(3))

    assert [at for at, _ in before.events] == [1.0, 3.0, 5.0, 14.0]
    assert [at for at, _ in after.events] == [8.0, 17.0]
    assert (after.values[0].old, after.values[0].new) == ((), MARBLE_CONFIGS["c"])
    assert before.completed == after.completed == 21.0

    failed_in, failed_out = record_before_after(
        changes_from_marbles("-a-#", MARBLE_CONFIGS), debounce_changes(3)
    )
    assert (failed_in.completed, type(failed_in.error)) == (3.0, Exception)
    assert (failed_out.completed, type(failed_out.error)) == (3.0, Exception)
    assert [at for at, _ in failed_out.events] == [3.0]  # the pending burst goes out first


def test_a_failed_stream_ends_in_a_red_cross_on_the_strip() -> None:
    """An error ends the row with an x, not the | of completion."""
    ax = plot_before_after(changes_from_marbles("-a-#", MARBLE_CONFIGS), debounce_changes(3))

    ends = [line.get_marker() for line in ax.lines if line.get_label() == "_end"]
    assert ends == ["x", "x"]


# -- the notebooks extra -------------------------------------------------------------------


def test_without_matplotlib_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A missing matplotlib is an ImportError naming the function and the notebooks extra."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)

    with pytest.raises(
        ImportError, match=r"^plot_timeline needs matplotlib: pip install 'confighub\[notebooks\]'$"
    ):
        plot_timeline(chain(TIMELINE_CONFIGS))


def test_the_modules_import_without_the_notebooks_extra() -> None:
    """Importing the frame and plot modules needs neither pandas nor matplotlib nor numpy."""
    code = (
        "import sys; sys.modules.update(pandas=None, matplotlib=None, numpy=None); "
        "import confighub.notebook"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
