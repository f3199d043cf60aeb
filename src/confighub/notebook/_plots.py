"""Plots of config changes: which tracepoints were live when, and streams side by side.

matplotlib comes with the ``notebooks`` extra and is imported only when a plot
is drawn. Each function draws on the ``ax`` it is given, else on a new figure
(through pyplot, so a notebook shows it), and returns the Axes.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import reactivex
from reactivex import Observable
from reactivex import operators as ops
from reactivex.testing import TestScheduler

from confighub.events import ConfigChange, ConfigDiff, items_by_key
from confighub.events._wording import MINUS_SIGN, tally
from confighub.notebook._inputs import Changes, changes_of, needs_extra
from confighub.operators import ChangeOperator
from confighub.virtual import VirtualRun, run_virtual

if TYPE_CHECKING:
    import numpy.typing as npt
    from matplotlib.axes import Axes

__all__ = ["plot_before_after", "plot_strip", "plot_timeline", "record_before_after"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: kind of change -> (marker, colour): shapes differ too, for readers who do not see colours.
_MARKS = {"added": ("^", "tab:green"), "changed": ("o", "tab:orange"), "removed": ("v", "tab:red")}


def plot_timeline(
    events: Changes, *, ax: Axes | None = None, until: datetime | int | None = None
) -> Axes:
    """Which tracepoints were live when: a row per item id, a bar per interval it was live.

    Rows are ordered by first appearance, top to bottom; items already in the
    first change's ``old`` are live from the first change. The last interval
    ends at ``until`` (a datetime, naive meaning UTC, or ns since the epoch),
    else at the last change; an interval of no length draws no bar. Markers
    show where items were added, changed and removed. ``events`` is as for
    ``to_dataframe``; x is ``ts`` in UTC.

    >>> ax = plot_timeline(read_tape("today.tape.jsonl"), until=datetime.now(UTC))  # doctest: +SKIP
    >>> ax.figure.savefig("today.png")  # doctest: +SKIP
    """
    changes = changes_of(events)
    if not changes:
        ax = _axes(ax, "plot_timeline", height=2.0)
        ax.text(0.5, 0.5, "no changes", ha="center", va="center", transform=ax.transAxes)
        ax.set(title="Live tracepoints", xticks=[], yticks=[])
        return ax
    first, last = changes[0].ts, changes[-1].ts
    end = _until(until, last)

    rows: dict[str, int] = {}
    spans: list[tuple[int, int, int]] = []  # (row, start ns, stop ns)
    marks: dict[str, tuple[list[int], list[int]]] = {kind: ([], []) for kind in _MARKS}
    live_since = dict.fromkeys(items_by_key(changes[0].old), first)
    for change in changes:
        old, new = items_by_key(change.old), items_by_key(change.new)
        for key in (*old, *new):
            rows.setdefault(key, len(rows))
        # Liveness follows each new config, so it stays right where a stream skips changes.
        for key in [key for key in live_since if key not in new]:
            spans.append((rows[key], live_since.pop(key), change.ts))
        for key in new:
            live_since.setdefault(key, change.ts)
        for kind, keys in _touched(change.diff).items():
            marks[kind][0].extend(change.ts for _ in keys)
            marks[kind][1].extend(rows[key] for key in keys)
    spans.extend((rows[key], since, end) for key, since in live_since.items())
    spans = [(row, start, stop) for row, start, stop in spans if stop > start]

    ax = _axes(ax, "plot_timeline", height=1.5 + 0.35 * len(rows))
    ax.barh(
        [row for row, _, _ in spans],
        _datetimes([stop - start for _, start, stop in spans], "timedelta64[ns]"),
        left=_datetimes([start for _, start, _ in spans]),
        height=0.5,
        color="tab:blue",
        alpha=0.35,
        label="live",
    )
    for kind, (marker, colour) in _MARKS.items():
        xs, ys = marks[kind]
        ax.plot(_datetimes(xs), ys, linestyle="none", marker=marker, color=colour, label=kind)
    pad = max((end - first) // 30, 1_000_000_000)
    left, right = _datetimes([first - pad, end + pad])
    ax.set_xlim(left, right)
    ax.set_yticks(range(len(rows)), labels=list(rows))
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set(title="Live tracepoints", ylabel="tracepoint id")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    _date_axis(ax)
    return ax


def plot_strip(rows: Mapping[str, Changes], *, ax: Axes | None = None) -> Axes:
    """Streams one above the other, each change a marker labelled with its diff, as ``+2 -1 ~0``.

    ``rows`` maps a label to its events, top to bottom in mapping order, on one
    time axis: all ``VirtualRun`` (x is the recorded virtual time, in seconds;
    ``|`` marks completion and a red ``x`` an error), or all iterables of
    ``ConfigChange`` (x is ``ts`` in UTC).

    >>> recorded = run_virtual(changes_from_marbles("-a-b|", configs), TestScheduler())
    >>> ax = plot_strip({"hub": recorded})  # doctest: +SKIP
    """
    if not rows:
        raise ValueError("plot_strip: rows is empty; give a mapping of label -> events")
    virtual = [label for label, events in rows.items() if isinstance(events, VirtualRun)]
    if virtual and len(virtual) < len(rows):
        timed = [label for label in rows if label not in virtual]
        raise ValueError(
            f"plot_strip: rows mix VirtualRuns (virtual seconds: {virtual}) and ConfigChange "
            f"iterables (timestamps: {timed}); give rows of one kind"
        )

    ax = _axes(ax, "plot_strip", height=1.0 + 0.8 * len(rows))
    for row, (label, events) in enumerate(rows.items()):
        if isinstance(events, VirtualRun):
            changes = events.values
            xs: Sequence[float] | npt.NDArray[Any] = [at for at, _ in events.events]
        else:
            changes = list(events)
            xs = _datetimes([change.ts for change in changes])
        ax.plot(xs, [row] * len(xs), linestyle="none", marker="o", label=label)
        # Changes at one instant share one label, a line each; labels alternate above and
        # below the row, so neighbouring instants keep readable labels.
        instants = itertools.groupby(zip(xs, changes, strict=True), key=lambda pair: pair[0])
        for index, (x, group) in enumerate(instants):
            above = index % 2 == 0
            ax.annotate(
                "\n".join(tally(change.diff, MINUS_SIGN) for _, change in group),
                (x, row),
                xytext=(0, 7 if above else -7),
                textcoords="offset points",
                ha="center",
                va="bottom" if above else "top",
                fontsize=8,
            )
        if isinstance(events, VirtualRun):
            _ending(ax, row, events)
    ax.set_yticks(range(len(rows)), labels=list(rows))
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.margins(x=0.05)
    ax.grid(axis="y", alpha=0.3)
    if virtual:
        ax.set_xlabel("virtual time (s)")
    else:
        _date_axis(ax)
    return ax


def record_before_after(
    source: Observable[ConfigChange],
    operator: ChangeOperator,
    *,
    scheduler: TestScheduler | None = None,
) -> tuple[VirtualRun[ConfigChange], VirtualRun[ConfigChange]]:
    """Run ``source`` and ``source.pipe(operator)`` together in virtual time; both VirtualRuns.

    Both are subscribed at the same moment on ``scheduler`` (a fresh
    ``TestScheduler`` when None), which then runs until idle, as in
    ``run_virtual``; times are seconds since that moment.

    >>> configs = {"a": [TracePoint("cart", "shop/cart.py", 17)], "b": []}
    >>> before, after = record_before_after(
    ...     changes_from_marbles("-a-b-a---|", configs), debounce_changes(2)
    ... )
    >>> [at for at, _ in before.events], [at for at, _ in after.events]
    ([1.0, 3.0, 5.0], [7.0])
    """
    both = reactivex.merge(
        source.pipe(ops.materialize(), ops.map(lambda notification: (0, notification))),
        source.pipe(operator, ops.materialize(), ops.map(lambda notification: (1, notification))),
    )
    recorded = run_virtual(both, scheduler or TestScheduler())
    return _untagged(recorded, 0), _untagged(recorded, 1)


def plot_before_after(
    source: Observable[ConfigChange],
    operator: ChangeOperator,
    *,
    scheduler: TestScheduler | None = None,
    ax: Axes | None = None,
    labels: tuple[str, str] | None = None,
) -> Axes:
    """What ``operator`` does to ``source``: the two streams in virtual time, as a strip.

    The rows are ``"in"`` and the operator's name (``labels=(in, out)``
    overrides them). This is ``record_before_after`` then ``plot_strip``: to
    keep the VirtualRuns, call those two yourself.

    >>> configs = {"a": [TracePoint("cart", "shop/cart.py", 17)], "b": []}
    >>> source = changes_from_marbles("-a-b-a------b--|", configs)
    >>> ax = plot_before_after(source, debounce_changes(3))  # doctest: +SKIP
    >>> before, after = record_before_after(source, debounce_changes(3))  # the data behind it
    """
    in_label, out_label = labels or ("in", _name(operator))
    if in_label == out_label:
        raise ValueError(f"plot_before_after: the two labels must differ, got {in_label!r} twice")
    before, after = record_before_after(source, operator, scheduler=scheduler)
    ax = plot_strip({in_label: before, out_label: after}, ax=ax)
    ax.set_title(f"before and after {out_label}")
    return ax


def _axes(ax: Axes | None, function: str, *, height: float) -> Axes:
    if ax is not None:
        return ax
    with needs_extra(function, "matplotlib"):
        import matplotlib.pyplot as plt  # noqa: PLC0415
    return plt.figure(figsize=(10, height), layout="constrained").add_subplot()


def _date_axis(ax: Axes) -> None:
    import matplotlib.dates as mdates  # noqa: PLC0415

    # matplotlib.dates has no type information.
    locator = mdates.AutoDateLocator(tz=UTC)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    concise = mdates.ConciseDateFormatter(locator, tz=UTC)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(concise)
    ax.set_xlabel("time (UTC)")


def _datetimes(ns: Sequence[int], dtype: str = "datetime64[ns]") -> npt.NDArray[Any]:
    """``ns`` as numpy datetimes (or timedeltas), which matplotlib plots at full precision."""
    import numpy as np  # noqa: PLC0415

    return np.array(ns, dtype=dtype)


def _until(until: datetime | int | None, last: int) -> int:
    if until is None:
        return last
    if isinstance(until, datetime):
        aware = until if until.tzinfo is not None else until.replace(tzinfo=UTC)
        end = (aware - _EPOCH) // timedelta(microseconds=1) * 1000
    else:
        end = until
    if end < last:
        at = _EPOCH + timedelta(microseconds=last // 1000)
        raise ValueError(
            f"plot_timeline: until={until!r} is before the last change, at {at.isoformat()}"
        )
    return end


def _touched(diff: ConfigDiff) -> dict[str, list[str]]:
    return {"added": list(diff.added), "changed": list(diff.changed), "removed": list(diff.removed)}


def _ending(ax: Axes, row: int, recording: VirtualRun[ConfigChange]) -> None:
    if recording.completed is None:
        return
    # As in marble diagrams: | for completion, x for an error.
    marker, colour = ("|", "0.3") if recording.error is None else ("x", "tab:red")
    ax.plot([recording.completed], [row], marker=marker, markersize=14, color=colour, label="_end")


def _untagged(recorded: VirtualRun[tuple[int, Any]], tag: int) -> VirtualRun[ConfigChange]:
    """One side of the merged recording: its changes, then how it ended."""
    events: list[tuple[float, ConfigChange]] = []
    completed: float | None = None
    error: Exception | None = None
    for at, (which, notification) in recorded.events:
        if which != tag:
            continue
        if notification.kind == "N":
            events.append((at, notification.value))
        elif notification.kind == "C":
            completed = at
        else:
            completed, error = at, notification.exception
    return VirtualRun(events, completed, error)


def _name(operator: ChangeOperator) -> str:
    qualname = getattr(operator, "__qualname__", None)
    if not isinstance(qualname, str):
        return repr(operator)
    # A nested operator is named after the function that made it, as the operators of
    # confighub.operators are: debounce_changes.<locals>.<lambda> is "debounce_changes".
    scopes = qualname.split(".<locals>.")
    return scopes[-2] if len(scopes) > 1 else qualname
