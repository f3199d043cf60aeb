"""Test helpers for code that consumes confighub streams; a pytest plugin.

Installing confighub registers this module with pytest (entry point
``pytest11``), which provides three fixtures:

- ``virtual_scheduler``: a reactivex ``TestScheduler`` (virtual time, in seconds);
- ``config_hub``: a ``ConfigHub`` whose clock is that scheduler's, closed after the test;
- ``make_tracepoint``: builds valid ``TracePoint`` values with fresh ids and lines.

And helpers usable with or without the fixtures: ``changes_from_marbles``
(a marble string plus configs → a stream of ``ConfigChange``),
``expected_changes`` (the same for what a test expects), ``run_virtual``
(subscribe and run the scheduler), ``feed_hub`` (drive a real hub from
marbles) and the assertions ``assert_changes`` and ``assert_chain``, which
compare by hashes and diffs and name configs by their marble letters.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

import pytest
import reactivex
from reactivex import Observable, abc
from reactivex.observable.marbles import parse
from reactivex.scheduler import VirtualTimeScheduler
from reactivex.testing import TestScheduler

from confighub._narrow import view_hash
from confighub.events import ConfigChange, Item
from confighub.hub import ConfigHub
from confighub.model import TracePoint

__all__ = [
    "Recording",
    "TracePointFactory",
    "assert_chain",
    "assert_changes",
    "changes_from_marbles",
    "config_hub",
    "expected_changes",
    "feed_hub",
    "make_tracepoint",
    "run_virtual",
    "virtual_clock",
    "virtual_scheduler",
]

_T = TypeVar("_T")
Configs = Mapping[str, Sequence[Item]]
Timed = tuple[float, ConfigChange]


class TracePointFactory(Protocol):
    """Builds a valid tracepoint; every argument is optional."""

    def __call__(
        self,
        path: str = ...,
        line: int | None = ...,
        *,
        id: str | None = ...,
        **args: str,
    ) -> TracePoint:
        """A tracepoint at ``path``:``line`` with ``args``."""


class Recording(NamedTuple, Generic[_T]):
    """What an observer saw in virtual time: timed events, then how the stream ended."""

    events: list[tuple[float, _T]]
    completed: float | None
    error: Exception | None

    @property
    def values(self) -> list[_T]:
        """The events without their times."""
        return [value for _, value in self.events]


def virtual_clock(scheduler: abc.SchedulerBase) -> Callable[[], int]:
    """A ``ConfigHub`` clock (ns since the epoch) that reads ``scheduler``'s time."""
    return lambda: round(scheduler.to_seconds(scheduler.now) * 1_000_000_000)


def changes_from_marbles(
    marbles: str,
    configs: Configs,
    *,
    scheduler: abc.SchedulerBase | None = None,
    timespan: float = 1.0,
) -> Observable[ConfigChange]:
    """A cold stream of the changes between the configs named in ``marbles``.

    ``changes_from_marbles("-a-b--c|", {"a": cfg1, "b": cfg2, "c": cfg3})``
    emits ``None→a`` at 1, ``a→b`` at 3 and ``b→c`` at 6 (in ``timespan``
    units) and completes, with ``ts`` read from the scheduler. Like a hub, a
    letter whose config equals the current one emits nothing.
    """
    frames = reactivex.from_marbles(
        marbles, timespan=timespan, scheduler=scheduler, lookup=_lookup(configs)
    )

    def subscribe(
        observer: abc.ObserverBase[ConfigChange], subscribe_scheduler: abc.SchedulerBase | None
    ) -> abc.DisposableBase:
        clock = scheduler or subscribe_scheduler
        current: tuple[Item, ...] = ()
        current_hash: str | None = None

        def on_next(config: Sequence[Item]) -> None:
            nonlocal current, current_hash
            new = tuple(config)
            new_hash = view_hash(new)
            if new_hash == current_hash:
                return
            ts = virtual_clock(clock)() if clock is not None else 0
            change = ConfigChange(ts, current_hash, new_hash, current, new)
            current, current_hash = new, new_hash
            observer.on_next(change)

        return frames.subscribe(
            on_next, observer.on_error, observer.on_completed, scheduler=subscribe_scheduler
        )

    return Observable(subscribe)


def expected_changes(
    marbles: str,
    pairs: Mapping[str, tuple[Sequence[Item], Sequence[Item]]],
    *,
    timespan: float = 1.0,
) -> list[Timed]:
    """Timed changes for ``assert_changes``: each letter maps to ``(old config, new config)``.

    Times are relative to subscription, like ``run_virtual`` reports them; an
    empty old config stands for "no config yet" (``old_hash`` None).
    """
    events: list[Timed] = []
    for time, notification in parse(marbles, timespan=timespan, lookup=_lookup(pairs)):
        if notification.kind == "N":
            old, new = (tuple(config) for config in notification.value)
            old_hash = view_hash(old) if old else None
            change = ConfigChange(0, old_hash, view_hash(new), old, new)
            events.append((_seconds(time), change))
    return events


def run_virtual(
    observable: Observable[_T], scheduler: TestScheduler, *, until: float | None = None
) -> Recording[_T]:
    """Subscribe now, run ``scheduler`` (to ``until``, else until idle) and dispose.

    Event times are relative to the moment of subscription.
    """
    start = scheduler.clock
    events: list[tuple[float, _T]] = []
    ended: dict[str, Any] = {}

    def at() -> float:
        return float(scheduler.clock - start)

    subscription = observable.subscribe(
        lambda value: events.append((at(), value)),
        lambda error: ended.update(error=error, at=at()),
        lambda: ended.update(at=at()),
        scheduler=scheduler,
    )
    if until is None:
        # The base class's run-until-idle: TestScheduler.start would also schedule its own
        # create/subscribe/dispose at fixed times.
        VirtualTimeScheduler.start(scheduler)
    else:
        scheduler.advance_to(start + until)
    subscription.dispose()
    return Recording(events, ended.get("at"), ended.get("error"))


def feed_hub(
    hub: ConfigHub,
    marbles: str,
    configs: Configs,
    scheduler: abc.SchedulerBase,
    *,
    timespan: float = 1.0,
) -> abc.DisposableBase:
    """Apply the configs named in ``marbles`` to ``hub`` at their times, as a poller would.

    Each letter is a poll: its config goes to ``update_new_config`` (so an
    unchanged one is a heartbeat). ``|`` and ``#`` are ignored.
    """

    def poll(config: Sequence[Item]) -> None:
        items = tuple(config)
        hub.update_new_config(virtual_clock(scheduler)(), view_hash(items), items)

    frames = reactivex.from_marbles(
        marbles, timespan=timespan, scheduler=scheduler, lookup=_lookup(configs)
    )
    return frames.subscribe(poll, lambda _: None, scheduler=scheduler)


def assert_changes(
    actual: Sequence[ConfigChange] | Sequence[Timed] | Recording[ConfigChange],
    expected: Sequence[ConfigChange] | Sequence[Timed],
    *,
    names: Configs | None = None,
) -> None:
    """Assert two change streams agree on hashes and diffs (and times, when both are timed).

    ``ts`` is not compared. ``names`` (the configs given to the marbles) lets
    the failure message call configs by their letters.
    """
    got = actual.events if isinstance(actual, Recording) else list(actual)
    want = list(expected)
    letters = {view_hash(tuple(config)): name for name, config in (names or {}).items()}
    timed = bool(got and want and isinstance(got[0][0], float) and isinstance(want[0][0], float))
    problems: list[str] = []
    for index, (g, w) in enumerate(itertools.zip_longest(got, want)):
        if g is None or w is None:
            side, extra = ("missing", w) if g is None else ("unexpected", g)
            problems.append(f"event {index}: {side} {_describe(extra, letters)}")
        elif _signature(g, timed) != _signature(w, timed):
            problems.append(
                f"event {index}: expected {_describe(w, letters)}\n"
                f"{' ' * len(f'event {index}: ')}     got {_describe(g, letters)}"
            )
    if problems:
        pytest.fail(
            f"change streams differ ({len(got)} events, {len(want)} expected):\n"
            + "\n".join(problems),
            pytrace=False,
        )


def assert_chain(changes: Sequence[ConfigChange] | Recording[ConfigChange]) -> None:
    """Assert that each change starts where the previous one ended (hash and config)."""
    items = changes.values if isinstance(changes, Recording) else list(changes)
    for index, (a, b) in enumerate(itertools.pairwise(items), start=1):
        if b.old_hash != a.new_hash or b.old != a.new:
            pytest.fail(
                f"chain broken at event {index}: it starts from {b.old_hash} with"
                f" {len(b.old)} items, the previous one ended at {a.new_hash} with"
                f" {len(a.new)} items",
                pytrace=False,
            )


def _lookup(values: Mapping[str, Any]) -> dict[str | float, Any]:
    lookup: dict[str | float, Any] = {}
    lookup.update(values)
    return lookup


def _seconds(time: float | timedelta) -> float:
    return time.total_seconds() if isinstance(time, timedelta) else float(time)


def _change_of(event: Any) -> tuple[float | None, ConfigChange]:
    if isinstance(event, ConfigChange):
        return None, event
    return event[0], event[1]


def _signature(event: Any, timed: bool) -> tuple[Any, ...]:
    time, change = _change_of(event)
    diff = change.diff
    return (
        time if timed else None,
        change.old_hash,
        change.new_hash,
        sorted(diff.added),
        sorted(diff.removed),
        sorted(diff.changed),
    )


def _describe(event: Any, letters: Mapping[str, str]) -> str:
    time, change = _change_of(event)
    diff = change.diff

    def name(config_hash: str | None) -> str:
        if config_hash is None:
            return "None"
        return letters.get(config_hash, config_hash[:8])

    parts = [f"+{key}" for key in diff.added]
    parts += [f"-{key}" for key in diff.removed]
    parts += [f"~{key}" for key in diff.changed]
    when = f"at {time:g} " if time is not None else ""
    return (
        f"{when}{name(change.old_hash)}→{name(change.new_hash)} ({', '.join(parts) or 'no diff'})"
    )


@pytest.fixture
def virtual_scheduler() -> TestScheduler:
    """A reactivex ``TestScheduler``: time moves only when the test runs it."""
    return TestScheduler()


@pytest.fixture
def config_hub(virtual_scheduler: TestScheduler) -> Iterator[ConfigHub]:
    """A ``ConfigHub`` stamping changes with ``virtual_scheduler``'s time; closed afterwards."""
    with ConfigHub(clock=virtual_clock(virtual_scheduler)) as hub:
        yield hub


@pytest.fixture
def make_tracepoint() -> TracePointFactory:
    """Builds valid tracepoints; ids ``tp-1``, ``tp-2``… and lines 1, 2… unless given."""
    counter = itertools.count(1)

    def make(
        path: str = "app.py",
        line: int | None = None,
        *,
        id: str | None = None,
        **args: str,
    ) -> TracePoint:
        n = next(counter)
        return TracePoint(id or f"tp-{n}", path, line if line is not None else n, args)

    return make
