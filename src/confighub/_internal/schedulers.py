"""The schedulers confighub runs timers and off-thread deliveries on.

``shared_timer_scheduler`` is the default of every time-based operator: one
daemon thread, started on first use, so importing confighub starts none.
``stop_loop`` disposes an ``EventLoopScheduler`` from any thread, its own included.
"""

from __future__ import annotations

import contextlib
import threading

from reactivex import abc
from reactivex.internal import DisposedException
from reactivex.scheduler import EventLoopScheduler

__all__ = ["shared_timer_scheduler", "stop_loop"]

_shared: EventLoopScheduler | None = None
_shared_lock = threading.Lock()


def shared_timer_scheduler() -> abc.SchedulerBase:
    """The default scheduler of the time-based operators: one daemon thread, started once."""
    global _shared  # noqa: PLW0603 - created on first use, so importing starts no thread
    with _shared_lock:
        if _shared is None:
            _shared = EventLoopScheduler()
        return _shared


def stop_loop(scheduler: EventLoopScheduler) -> None:
    """Dispose an ``EventLoopScheduler``, from any thread, its own included."""
    # Disposed from its own thread (a completion delivered there disposes the subscription),
    # an EventLoopScheduler misses the wake-up and sleeps forever. An item queued first
    # makes its loop go round once more and see that it was disposed.
    with contextlib.suppress(DisposedException):
        scheduler.schedule(lambda _, __: None)
    scheduler.dispose()
