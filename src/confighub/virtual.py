"""Config streams in virtual time: marble-built sources, timed runs, a hub fed by marbles.

``changes_from_marbles`` turns a marble string and named configs into a stream
of ``ConfigChange``; ``run_virtual`` subscribes on a ``TestScheduler``, runs it
and gives a ``VirtualRun`` (what the observer saw, and when); ``feed_hub`` drives
a real hub from marbles. ``HeapHistoricalScheduler`` and ``HeapTestScheduler`` are
reactivex's ``HistoricalScheduler`` and ``TestScheduler`` on a cheaper queue (a heap of
plain entries, a few times cheaper per scheduled item), for long replays. The pytest
plugin (``confighub.testing``) and the notebook plots (``confighub.notebook``) build on
these, and need nothing more than reactivex to run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Generic, NamedTuple, TypeVar

import reactivex
from reactivex import Observable, abc
from reactivex.observable.marbles import parse
from reactivex.testing import TestScheduler

from confighub._internal.virtualtime import HeapHistoricalScheduler, HeapTestScheduler
from confighub.events import ConfigChange, Item
from confighub.hub import ConfigHub
from confighub.model import view_hash

__all__ = [
    "Configs",
    "HeapHistoricalScheduler",
    "HeapTestScheduler",
    "Timed",
    "VirtualRun",
    "changes_from_marbles",
    "expected_changes",
    "feed_hub",
    "run_virtual",
    "virtual_clock",
]

_T = TypeVar("_T")
Configs = Mapping[str, Sequence[Item]]
Timed = tuple[float, ConfigChange]


class VirtualRun(NamedTuple, Generic[_T]):
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
        marbles, timespan=timespan, scheduler=scheduler, lookup=_lookup(marbles, configs)
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
    for time, notification in parse(marbles, timespan=timespan, lookup=_lookup(marbles, pairs)):
        if notification.kind == "N":
            old, new = (tuple(config) for config in notification.value)
            old_hash = view_hash(old) if old else None
            change = ConfigChange(0, old_hash, view_hash(new), old, new)
            events.append((_seconds(time), change))
    return events


def run_virtual(
    observable: Observable[_T], scheduler: TestScheduler, *, until: float | None = None
) -> VirtualRun[_T]:
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
        # The run-until-idle of the class after TestScheduler (reactivex's own, or a heap
        # queue's): TestScheduler.start would also schedule create/subscribe/dispose itself.
        super(TestScheduler, scheduler).start()
    else:
        scheduler.advance_to(start + until)
    subscription.dispose()
    return VirtualRun(events, ended.get("at"), ended.get("error"))


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
        marbles, timespan=timespan, scheduler=scheduler, lookup=_lookup(marbles, configs)
    )
    return frames.subscribe(poll, lambda _: None, scheduler=scheduler)


def _lookup(marbles: str, values: Mapping[str, Any]) -> dict[str | float, Any]:
    """``values`` as a marble lookup; a ``ValueError`` if ``marbles`` names anything else."""
    lookup: dict[str | float, Any] = {}
    lookup.update(values)
    unknown = {
        notification.value
        for _, notification in parse(marbles)
        if notification.kind == "N" and notification.value not in lookup
    }
    if unknown:
        raise ValueError(
            f"marbles {marbles!r} name {', '.join(sorted(map(repr, unknown)))}, not one of"
            f" {', '.join(map(repr, values))} (several at one time are written '(a,b)')"
        )
    return lookup


def _seconds(time: float | timedelta) -> float:
    return time.total_seconds() if isinstance(time, timedelta) else float(time)
