"""Virtual-time schedulers whose queue costs little per item: a heap of plain entries.

reactivex's ``VirtualTimeScheduler`` allocates a ``ScheduledItem`` and a
``SingleAssignmentDisposable`` (with its lock) for each action, takes a lock to
enqueue and another to dequeue, converts every due time to a datetime and back,
and wraps an action's ``None`` in a new ``Disposable``: about 4 µs per item, three
times what this one costs and nearly what decoding a tape line does.
``HeapVirtualTimeScheduler`` keeps the same contract (``now``, ``schedule``,
``schedule_relative``, ``schedule_absolute``, ``start``, ``stop``, ``advance_to``,
``advance_by``, ``sleep``; disposal of scheduled actions and of what they return;
equal due times in FIFO order; actions scheduled by actions) with one small list
per item, ``[due, sequence, action, …]``, on a heap.

Two differences, both on purpose: ``start`` never moves the clock by itself
(the base class adds a millisecond after 100 items due at one time, which
would move a burst of changes recorded at one instant apart), and a failing
action leaves the scheduler stopped, so that it can be started again.
"""

from __future__ import annotations

import heapq
import itertools
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from reactivex import abc, typing
from reactivex.internal import ArgumentOutOfRangeException
from reactivex.scheduler import HistoricalScheduler, VirtualTimeScheduler
from reactivex.testing import TestScheduler

__all__ = ["HeapHistoricalScheduler", "HeapTestScheduler", "HeapVirtualTimeScheduler"]

_TState = TypeVar("_TState")

_SEQUENCE: Final = itertools.count()
"""One sequence for every scheduler: no two entries, of any scheduler, are ever equal."""


class _Scheduled(list[Any], abc.DisposableBase):
    """One scheduled action: disposing it cancels it, or disposes what it returned.

    It is its own entry on the heap, ``[due, sequence, action, state, result, disposed]``:
    a list, so that the heap compares entries in C (by due time, then by the sequence,
    which no two share), and one allocation makes both the entry and its disposable.
    """

    __slots__ = ()
    # Hashable by identity, as every other disposable is (a composite may keep them in a
    # set); list equality is identity here too, since no two entries share a sequence.
    __hash__ = object.__hash__  # type: ignore[assignment]

    def dispose(self) -> None:
        # Flag first, then read: with ``_run`` storing its result first and then reading the
        # flag, a dispose from another thread never misses the result (it may dispose it twice).
        self[_ACTION] = self[_STATE] = None
        self[_DISPOSED] = True
        result = self[_RESULT]
        if result is not None:
            self[_RESULT] = None
            result.dispose()


_ACTION: Final = 2
_STATE: Final = 3
_RESULT: Final = 4
_DISPOSED: Final = 5


def _run(scheduler: abc.SchedulerBase, entry: _Scheduled) -> None:
    """Run the action of ``entry`` unless it was disposed; keep what it returns to dispose."""
    action = entry[_ACTION]
    if action is not None:
        state = entry[_STATE]
        entry[_ACTION] = entry[_STATE] = None  # a change held as state is not kept past its run
        result = action(scheduler, state)
        if result is not None:
            _keep(entry, result)


def _keep(entry: _Scheduled, result: object) -> None:
    """Keep what an action returned, to dispose with ``entry`` (now, if disposed meanwhile)."""
    if isinstance(result, abc.DisposableBase):
        entry[_RESULT] = result
        if entry[_DISPOSED]:
            entry[_RESULT] = None
            result.dispose()


class HeapVirtualTimeScheduler(VirtualTimeScheduler):
    """A ``VirtualTimeScheduler`` whose queue is a heap of plain entries (see the module).

    The clock keeps the type the initial clock has, as in the base class: a
    datetime (as ``HistoricalScheduler``'s) or seconds; due times are kept in
    that type, so that the heap compares them without a conversion.
    """

    def __init__(self, initial_clock: typing.AbsoluteTime = 0) -> None:
        super().__init__(initial_clock)
        self._heap: list[_Scheduled] = []
        self._datetimes = isinstance(self._clock, datetime)

    def _key(self, time: typing.AbsoluteTime) -> Any:
        kind = type(time)
        if self._datetimes:
            if kind is datetime:
                return time
            if kind is float:
                # What to_datetime does with seconds, without its chain of isinstance tests.
                return datetime.fromtimestamp(time, UTC)  # type: ignore[arg-type]
            return self.to_datetime(time)
        return time if kind is float else self.to_seconds(time)

    def schedule(
        self, action: abc.ScheduledAction[_TState], state: _TState | None = None
    ) -> abc.DisposableBase:
        """Schedule ``action`` now: after the actions already due now."""
        return self.schedule_absolute(self._clock, action, state)

    def schedule_absolute(
        self,
        duetime: typing.AbsoluteTime,
        action: abc.ScheduledAction[_TState],
        state: _TState | None = None,
    ) -> abc.DisposableBase:
        """Schedule ``action`` at ``duetime``: after the actions already due then."""
        if self._datetimes and type(duetime) is float:
            key: Any = datetime.fromtimestamp(duetime, UTC)  # a replay's due times: the hot path
        else:
            key = self._key(duetime)
        entry = _Scheduled((key, next(_SEQUENCE), action, state, None, False))
        # One heappush, comparing builtins (datetimes or floats, then ints), is one C call the
        # GIL keeps whole, so another thread may schedule without a lock; the sequence keeps
        # equal due times in FIFO order and never lets the heap compare actions.
        heapq.heappush(self._heap, entry)
        return entry

    def start(self) -> Any:
        """Run every action in due order, the clock set to each one's due time, until idle."""
        with self._lock:
            if self._is_enabled:
                return
            self._is_enabled = True
        heap = self._heap
        pop = heapq.heappop
        try:
            while self._is_enabled and heap:
                entry = pop(heap)
                due = entry[0]
                # The clock moves to a disposed action's due time too, as in the base class.
                if due > self._clock:  # noqa: PLR1730 - max() is one more call per item
                    self._clock = due
                # _run, inlined: one call less per item on the loop that replays a tape.
                action = entry[_ACTION]
                if action is not None:
                    state = entry[_STATE]
                    entry[_ACTION] = entry[_STATE] = None
                    result = action(self, state)
                    if result is not None:
                        _keep(entry, result)
        finally:
            self.stop()

    def advance_to(self, time: typing.AbsoluteTime) -> None:
        """Run the actions due up to ``time``, then set the clock to ``time``."""
        limit = self._key(time)
        with self._lock:
            if self._clock > limit:
                raise ArgumentOutOfRangeException()
            # As the base class: nothing runs when the clock is there already, or running.
            if self._clock == limit or self._is_enabled:
                return
            self._is_enabled = True
        heap = self._heap
        try:
            while self._is_enabled and heap and heap[0][0] <= limit:
                # An item another thread pushes between the test and the pop is due no later.
                entry = heapq.heappop(heap)
                due = entry[0]
                if due > self._clock:  # noqa: PLR1730 - max() is one more call per item
                    self._clock = due
                _run(self, entry)
        finally:
            with self._lock:
                self._is_enabled = False
                self._clock = limit


class HeapHistoricalScheduler(HeapVirtualTimeScheduler, HistoricalScheduler):
    """A ``HistoricalScheduler`` (datetime clock, from the epoch by default) on the heap queue."""

    def __init__(self, initial_clock: datetime | None = None) -> None:
        # HistoricalScheduler's own __init__ turns None into the epoch, next in the MRO.
        super().__init__(initial_clock)  # type: ignore[arg-type]


class HeapTestScheduler(TestScheduler, HeapVirtualTimeScheduler):
    """A ``TestScheduler`` (ticks in seconds, ``start(create)``, hot and cold marbles) on the heap.

    ``TestScheduler`` comes first so that its ``schedule_absolute`` and ``start`` wrap the
    heap's: ``VirtualTimeScheduler.start(scheduler)``, called unbound, would run the base
    class's empty queue instead; ``super(TestScheduler, scheduler).start()`` runs this one.
    """
