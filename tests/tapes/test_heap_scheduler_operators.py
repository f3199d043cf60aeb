"""The heap schedulers run time operators and replays as reactivex's own schedulers do."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import reactivex
from reactivex import operators as ops
from reactivex.scheduler import HistoricalScheduler, VirtualTimeScheduler
from reactivex.testing import ReactiveTest, TestScheduler

from confighub import ConfigChange, TracePoint
from confighub._internal.virtualtime import HeapHistoricalScheduler, HeapTestScheduler
from confighub.operators import conflate, debounce_changes, stale_after
from confighub.tapes import read_tape, replay
from confighub.virtual import changes_from_marbles
from tests.support.chains import SECOND, chain, write_tape

on_next, on_completed = ReactiveTest.on_next, ReactiveTest.on_completed
START = datetime(2024, 11, 29, 13, 0, tzinfo=UTC)
TESTING = [TestScheduler, HeapTestScheduler]
HISTORICAL: list[Callable[[], VirtualTimeScheduler]] = [
    lambda: HistoricalScheduler(START),
    lambda: HeapHistoricalScheduler(START),
]


def seconds(scheduler: VirtualTimeScheduler) -> float:
    return scheduler.to_seconds(scheduler.now) - scheduler.to_seconds(START)


# -- reactivex's own operators, on marbles ----------------------------------------------


def _hot(scheduler: TestScheduler) -> reactivex.Observable[int]:
    return scheduler.create_hot_observable(
        on_next(150, 0),
        on_next(210, 1),
        on_next(215, 2),
        on_next(260, 3),
        on_next(330, 4),
        on_completed(400),
    )


OPERATORS: dict[str, Callable[[TestScheduler], reactivex.Observable[Any]]] = {
    "debounce": lambda s: _hot(s).pipe(ops.debounce(20, scheduler=s)),
    "delay": lambda s: _hot(s).pipe(ops.delay(15, scheduler=s)),
    "throttle_first": lambda s: _hot(s).pipe(ops.throttle_first(30, scheduler=s)),
    "sample": lambda s: _hot(s).pipe(ops.sample(25, scheduler=s)),
    "timer": lambda s: reactivex.timer(30.0, 20.0, scheduler=s).pipe(ops.take(5)),
    "interval": lambda s: reactivex.interval(40.0, scheduler=s).pipe(ops.take(6)),
    "buffer_with_time": lambda s: _hot(s).pipe(ops.buffer_with_time(50, scheduler=s)),
    "timeout": lambda s: _hot(s).pipe(ops.timeout(60, reactivex.return_value(-1), scheduler=s)),
}


@pytest.mark.parametrize("name", OPERATORS)
def test_reactivex_operators_record_the_same_messages_on_both(name: str) -> None:
    """Each time operator, subscribed at 200 and disposed at 1000, records the same on both."""
    messages = []
    for make in TESTING:
        scheduler = make()
        messages.append(scheduler.start(partial(OPERATORS[name], scheduler)).messages)
    assert messages[0] == messages[1]
    assert messages[0]  # the operator did emit


# -- confighub's operators, on marbles of changes ---------------------------------------

A = TracePoint("a", "shop/cart.py", 10)
B = TracePoint("b", "shop/cart.py", 20)
CONFIGS = {"a": (A,), "b": (A, B), "c": (B,)}


def _times(scheduler: TestScheduler, stream: reactivex.Observable[Any]) -> list[tuple[float, Any]]:
    seen: list[tuple[float, Any]] = []
    stream.subscribe(lambda value: seen.append((scheduler.clock, value)), scheduler=scheduler)
    scheduler.start()
    return seen


CONFIGHUB: dict[str, Callable[[TestScheduler], reactivex.Observable[Any]]] = {
    "debounce_changes": lambda s: changes_from_marbles(
        "-a-b---c------|", CONFIGS, scheduler=s
    ).pipe(debounce_changes(2, scheduler=s)),
    "conflate": lambda s: changes_from_marbles("-a-b-c|", CONFIGS, scheduler=s).pipe(
        conflate(scheduler=s)
    ),
    "stale_after": lambda s: reactivex.from_marbles("-x-x-----x--|", scheduler=s).pipe(
        stale_after(3, scheduler=s)
    ),
}


@pytest.mark.parametrize("name", CONFIGHUB)
def test_confighub_operators_give_the_same_timed_values_on_both(name: str) -> None:
    """debounce_changes, conflate and stale_after emit the same values at the same times."""
    runs = []
    for make in TESTING:
        scheduler = make()
        runs.append(_times(scheduler, CONFIGHUB[name](scheduler)))
    assert runs[0] == runs[1]
    assert runs[0]
    if name == "debounce_changes":
        changes: list[ConfigChange] = [value for _, value in runs[0]]
        assert [change.new for change in changes] == [CONFIGS["b"], CONFIGS["c"]]


# -- a replayed tape, with a timer downstream --------------------------------------------


def _replayed(tape: Path, scheduler: VirtualTimeScheduler) -> list[tuple[float, Any]]:
    """What a replay and its debounced copy deliver, each with the time it came at."""
    seen: list[tuple[float, Any]] = []
    changes = replay(tape, scheduler)
    changes.subscribe(lambda change: seen.append((seconds(scheduler), change.new_hash)))
    changes.pipe(debounce_changes(1.5, scheduler=scheduler)).subscribe(
        lambda change: seen.append((seconds(scheduler), ("debounced", change.new_hash)))
    )
    scheduler.start()
    return seen


def test_a_replay_and_a_timer_downstream_interleave_alike_on_both(tmp_path: Path) -> None:
    """Changes 1 s apart, then 3 s: the debounce fires between them at the same times on both."""
    configs = [[A], [A, B], [B], [A], [A, B]]
    history = chain(configs, first=SECOND, step=SECOND)
    history[3:] = [change._replace(ts=change.ts + 3 * SECOND) for change in history[3:]]
    tape = write_tape(tmp_path / "t.jsonl", history, started=0)
    assert read_tape(tape).header.started == 0
    runs = [_replayed(tape, make()) for make in HISTORICAL]
    assert runs[0] == runs[1]
    debounced = [at for at, value in runs[1] if isinstance(value, tuple)]
    assert debounced == [4.5, 8.0]  # a burst's debounce, then the flush at completion
