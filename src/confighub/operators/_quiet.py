"""The quiet-period timer behind the time-based operators, debounce and staleness.

Each keeps at most one timer per subscription. An event only records when it
arrived; when the timer fires it checks whether the quiet period really
passed and, if not, re-arms for the rest of it. A burst of 20,000 events
therefore costs a handful of timers, not 20,000 (``reactivex``'s
``debounce`` re-arms per event, a new thread each on its default scheduler).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from reactivex import abc
from reactivex.disposable import SerialDisposable

from confighub._internal.serial import COMPLETED, Failed, SerialEmitter

__all__ = ["QuietTimer", "ended"]


class QuietTimer:
    """Calls ``when_quiet()`` once ``period`` has passed since the last ``touch``; one timer.

    ``touch`` records an arrival (the caller holds ``lock``); ``arm`` starts the
    timer. When it fires early it re-arms for the rest of the period; when the
    period has passed it calls ``when_quiet`` under ``lock`` (to queue what to
    emit on ``out``) and then drains ``out`` outside it.
    """

    def __init__(
        self,
        clock: abc.SchedulerBase,
        period: timedelta,
        lock: threading.Lock,
        out: SerialEmitter[Any],
        when_quiet: Callable[[], None],
    ) -> None:
        self.timer = SerialDisposable()
        self.seen = clock.now
        self._clock = clock
        self._period = period
        self._lock = lock
        self._out = out
        self._when_quiet = when_quiet

    def touch(self, now: datetime) -> None:
        """Record an arrival at ``now``: the quiet period starts again from there."""
        self.seen = now

    def arm(self, delay: timedelta | None = None) -> None:
        """Start the timer for ``delay`` (the whole period by default)."""
        self.timer.disposable = self._clock.schedule_relative(
            self._period if delay is None else delay, self._fire
        )

    def _fire(self, _: abc.SchedulerBase, __: Any = None) -> None:
        with self._lock:
            rest = self.seen + self._period - self._clock.now
            if rest <= timedelta(0):
                self._when_quiet()
        if rest > timedelta(0):
            self.arm(rest)
        else:
            self._out.drain()


def ended(
    lock: threading.Lock, quiet: QuietTimer, out: SerialEmitter[Any], flush: Callable[[], None]
) -> tuple[Callable[[Exception], None], Callable[[], None]]:
    """The on_error and on_completed of a timed operator: flush, end, stop the timer."""

    def end(notice: Any) -> None:
        with lock:
            flush()
            out.put(notice)
        quiet.timer.dispose()
        out.drain()

    return (lambda error: end(Failed(error))), (lambda: end(COMPLETED))
