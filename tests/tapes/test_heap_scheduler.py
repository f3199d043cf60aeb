"""The heap schedulers against the rx scheduler contract, side by side with reactivex's own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from reactivex import abc
from reactivex.disposable import Disposable
from reactivex.internal import ArgumentOutOfRangeException
from reactivex.scheduler import HistoricalScheduler, VirtualTimeScheduler
from reactivex.testing import ReactiveTest, TestScheduler

from confighub import TracePoint
from confighub._internal.virtualtime import (
    HeapHistoricalScheduler,
    HeapTestScheduler,
    HeapVirtualTimeScheduler,
)
from confighub.virtual import Configs, changes_from_marbles, run_virtual

on_next, on_completed = ReactiveTest.on_next, ReactiveTest.on_completed
START = datetime(2024, 11, 29, 13, 0, tzinfo=UTC)

# Every scheduler the contract tests run on: reactivex's, then ours, each a factory.
HISTORICAL: list[Callable[[], VirtualTimeScheduler]] = [
    lambda: HistoricalScheduler(START),
    lambda: HeapHistoricalScheduler(START),
]
ANY_CLOCK = [*HISTORICAL, VirtualTimeScheduler, HeapVirtualTimeScheduler]
TESTING = [TestScheduler, HeapTestScheduler]


def log_at(
    scheduler: VirtualTimeScheduler, log: list[Any], name: object
) -> abc.ScheduledAction[Any]:
    def action(_: abc.SchedulerBase, __: object) -> None:
        log.append((name, scheduler.now))

    return action


@pytest.mark.parametrize("make", ANY_CLOCK)
def test_actions_run_in_due_order_with_the_clock_at_each_due_time(
    make: Callable[[], VirtualTimeScheduler],
) -> None:
    """Absolute, relative and immediate actions run by due time; ``now`` reads each one's."""
    scheduler = make()
    base = scheduler.now
    log: list[Any] = []
    scheduler.schedule_relative(3.0, log_at(scheduler, log, "c"))
    scheduler.schedule_absolute(scheduler.add(base, 1.0), log_at(scheduler, log, "a"))
    scheduler.schedule_relative(timedelta(seconds=2), log_at(scheduler, log, "b"))
    scheduler.schedule(log_at(scheduler, log, "now"))
    scheduler.start()
    offsets = [(name, (now - base).total_seconds()) for name, now in log]
    assert offsets == [("now", 0.0), ("a", 1.0), ("b", 2.0), ("c", 3.0)]


@pytest.mark.parametrize("make", ANY_CLOCK)
def test_equal_due_times_run_first_in_first_out_and_nested_ones_after(
    make: Callable[[], VirtualTimeScheduler],
) -> None:
    """At one due time, actions run in the order scheduled; one scheduled by them runs after."""
    scheduler = make()
    order: list[object] = []

    def first(inner: abc.SchedulerBase, _: object) -> None:
        order.append("first")
        inner.schedule(lambda _, __: order.append("nested"))

    at = scheduler.add(scheduler.now, 5.0)
    scheduler.schedule_absolute(at, first)
    for n in range(50):
        scheduler.schedule_absolute(at, lambda _, __, n=n: order.append(n))  # type: ignore[misc]
    scheduler.start()
    assert order == ["first", *range(50), "nested"]


def test_a_burst_at_one_time_keeps_the_clock_where_it_is() -> None:
    """Unlike the base class, 200 actions due at one instant all see that instant."""
    scheduler = HeapHistoricalScheduler(START)
    seen: set[datetime] = set()
    for _ in range(200):
        scheduler.schedule(lambda inner, _: seen.add(inner.now))
    scheduler.start()
    assert seen == {START}


@pytest.mark.parametrize("make", ANY_CLOCK)
def test_a_disposed_action_never_runs_and_a_run_one_disposes_what_it_returned(
    make: Callable[[], VirtualTimeScheduler],
) -> None:
    """Disposing before the due time cancels; after the run, it disposes the action's result."""
    scheduler = make()
    ran: list[str] = []
    returned = Disposable(lambda: ran.append("result disposed"))

    def keeps(_: abc.SchedulerBase, __: object) -> abc.DisposableBase:
        ran.append("kept")
        return returned

    cancelled = scheduler.schedule_relative(1.0, lambda _, __: ran.append("cancelled"))
    kept = scheduler.schedule_relative(2.0, keeps)
    cancelled.dispose()
    scheduler.start()
    assert ran == ["kept"]
    kept.dispose()
    kept.dispose()
    assert ran == ["kept", "result disposed"]


@pytest.mark.parametrize("make", ANY_CLOCK)
def test_an_action_that_disposes_itself_has_its_result_disposed_at_once(
    make: Callable[[], VirtualTimeScheduler],
) -> None:
    """What an action returns after disposing its own handle is disposed as it returns."""
    scheduler = make()
    disposed: list[bool] = []
    handles: list[abc.DisposableBase] = []

    def action(_: abc.SchedulerBase, __: object) -> abc.DisposableBase:
        handles[0].dispose()
        return Disposable(lambda: disposed.append(True))

    handles.append(scheduler.schedule(action))
    scheduler.start()
    assert disposed == [True]


@pytest.mark.parametrize("make", ANY_CLOCK)
def test_stop_from_an_action_pauses_and_start_resumes(
    make: Callable[[], VirtualTimeScheduler],
) -> None:
    """An action that calls stop() ends start() after it; the next start() runs the rest."""
    scheduler = make()
    log: list[int] = []

    def stopping(inner: abc.SchedulerBase, _: object) -> None:
        log.append(1)
        scheduler.stop()

    scheduler.schedule_relative(1.0, stopping)
    scheduler.schedule_relative(2.0, lambda _, __: log.append(2))
    scheduler.start()
    assert log == [1]
    scheduler.start()
    assert log == [1, 2]


@pytest.mark.parametrize("make", ANY_CLOCK)
def test_advance_to_runs_what_is_due_by_then_and_sets_the_clock(
    make: Callable[[], VirtualTimeScheduler],
) -> None:
    """advance_to and advance_by run actions up to their time; sleep runs none; none goes back."""
    scheduler = make()
    base = scheduler.now
    log: list[int] = []
    for n in (1, 2, 3, 4):
        scheduler.schedule_relative(float(n), lambda _, __, n=n: log.append(n))  # type: ignore[misc]
    scheduler.advance_to(scheduler.add(base, 2.5))
    assert log == [1, 2]
    assert scheduler.now == base + timedelta(seconds=2.5)
    scheduler.sleep(1.0)
    assert log == [1, 2]
    assert scheduler.now == base + timedelta(seconds=3.5)
    scheduler.advance_by(timedelta(seconds=1))
    assert log == [1, 2, 3, 4]  # 3 was due at 3.0, passed by sleep: it runs late, before 4
    with pytest.raises(ArgumentOutOfRangeException):
        scheduler.advance_to(base)


def test_sleep_leaves_late_actions_to_run_first() -> None:
    """An action passed by sleep runs on the next advance, before those due after it."""
    scheduler = HeapVirtualTimeScheduler()
    log: list[tuple[int, float]] = []
    for n in (1, 3):
        scheduler.schedule_relative(float(n), lambda inner, _, n=n: log.append((n, inner.now)))  # type: ignore[misc]
    scheduler.sleep(2.0)
    scheduler.start()
    assert [n for n, _ in log] == [1, 3]
    assert log[1][1] == scheduler.to_datetime(3.0)


def test_a_failing_action_leaves_the_scheduler_able_to_start_again() -> None:
    """The error reaches start()'s caller; the actions after it still run on the next start."""
    scheduler = HeapHistoricalScheduler(START)
    log: list[int] = []

    def fails(_: abc.SchedulerBase, __: object) -> None:
        raise RuntimeError("boom")

    scheduler.schedule_relative(1.0, fails)
    scheduler.schedule_relative(2.0, lambda _, __: log.append(2))
    with pytest.raises(RuntimeError, match="boom"):
        scheduler.start()
    scheduler.start()
    assert log == [2]


def test_handles_are_disposables_hashed_by_identity() -> None:
    """A handle is a DisposableBase, usable as a context manager and in a set."""
    scheduler = HeapVirtualTimeScheduler()
    ran: list[int] = []
    with scheduler.schedule(lambda _, __: ran.append(1)) as handle:
        assert isinstance(handle, abc.DisposableBase)
    other = scheduler.schedule(lambda _, __: ran.append(2))
    assert len({handle, other}) == 2
    assert handle != other
    scheduler.start()
    assert ran == [2]


def test_run_virtual_on_a_heap_test_scheduler_ran_nothing() -> None:
    """``run_virtual`` runs a heap-queue TestScheduler's own queue, as it does reactivex's."""
    configs: Configs = {"a": [TracePoint("a", "a.py", 1)], "b": [TracePoint("b", "b.py", 2)]}
    for scheduler in (TestScheduler(), HeapTestScheduler()):
        run = run_virtual(changes_from_marbles("-a-b|", configs), scheduler)
        assert [time for time, _ in run.events] == [1.0, 3.0], type(scheduler).__name__
        assert run.completed == 4.0
