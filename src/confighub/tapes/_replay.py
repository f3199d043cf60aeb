"""Reading tapes back: as an iterable of changes, or replayed as a stream with its timing."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

from reactivex import Observable, abc
from reactivex.disposable import Disposable
from reactivex.internal.exceptions import DisposedException
from reactivex.scheduler import EventLoopScheduler

from confighub._internal.schedulers import stop_loop
from confighub._internal.text import counted, cut
from confighub._internal.virtualtime import HeapVirtualTimeScheduler
from confighub.events import ConfigChange
from confighub.exceptions import TapeError
from confighub.tapes._delta import Decoder
from confighub.tapes._format import TapeHeader, numbered_lines, open_tape, read_header

__all__ = ["Tape", "read_tape", "replay"]

_log = logging.getLogger("confighub.tapes")
_SPENT: Final = Disposable()
"""What a delivered change's action leaves to dispose: nothing."""


class Tape:
    """A tape file: its ``header``, and its changes, read in order each time it is iterated.

    Iterating reads the file lazily, one line at a time, so a tape of any
    length costs the memory of one config. A line that cannot be read (not
    UTF-8, not JSON, too long, too deep, not an event, a delta that does not
    apply) raises ``TapeError`` naming it, and nothing else; with
    ``strict=False`` iteration stops before it instead (the events after it
    are deltas from what it held), logs a warning, and ``stopped`` holds the
    error (None after a clean read).

    >>> tape = read_tape("incident.tape.jsonl")      # doctest: +SKIP
    >>> [change.new_hash for change in tape]          # doctest: +SKIP
    """

    def __init__(self, path: str | Path, *, strict: bool = True) -> None:
        self.path = Path(path)
        self.strict = strict
        self.stopped: TapeError | None = None
        name = str(self.path)
        with open_tape(self.path) as file:
            self.header: TapeHeader = read_header(name, numbered_lines(name, file))

    def __iter__(self) -> Iterator[ConfigChange]:
        return self.changes()

    def changes(
        self, on_stop: Callable[[TapeError], object] | None = None
    ) -> Iterator[ConfigChange]:
        """The changes, in order; ``on_stop`` also hears where a non-strict read stopped."""
        name = str(self.path)
        decoder = Decoder(name)
        self.stopped = None
        count = 0
        with open_tape(self.path) as file:
            lines = numbered_lines(name, file)
            read_header(name, lines)
            try:
                for number, line in lines:
                    if not line.isspace():
                        change = decoder.change(number, line)
                        count += 1
                        yield change
            except TapeError as err:
                if self.strict:
                    raise
                self.stopped = err
                reason = cut(err.reason, 1000)
                _log.warning(
                    "%s: read %s, stopped at line %d: %s",
                    name,
                    counted(count, "change"),
                    err.line,
                    reason,
                )
                if on_stop is not None:
                    on_stop(err)

    def __repr__(self) -> str:
        return f"Tape({str(self.path)!r}, source={self.header.source!r})"


def read_tape(path: str | Path, *, strict: bool = True) -> Tape:
    """Open the tape at ``path``, checking its header now (a bad one raises ``TapeError``)."""
    return Tape(path, strict=strict)


def replay(
    path: str | Path,
    scheduler: abc.SchedulerBase | None = None,
    speed: float | None = None,
    *,
    strict: bool = True,
    on_stop: Callable[[TapeError], object] | None = None,
) -> Observable[ConfigChange]:
    """A cold stream of the changes recorded in the tape at ``path``, with their timing.

    Each change is emitted as recorded (same ``ts``, hashes and configs) at
    its recorded distance from the tape's start, divided by ``speed``:

    - on ``scheduler`` when given: a reactivex virtual-time scheduler
      (``TestScheduler``, ``HistoricalScheduler``) replays hours in
      milliseconds, deterministically, and time operators downstream that run
      on it see the recorded timing;
    - else on the scheduler passed to ``subscribe``, if any;
    - else, with ``speed``, in real time, on a thread of the subscription's own;
    - else all at once, in order, during ``subscribe``.

    The header is checked now; a bad event line reaches observers as a
    ``TapeError`` naming it, in every mode (on ``on_error``: a replay's own
    thread never dies of one). With ``strict=False`` the valid prefix is
    replayed and the stream completes, after a logged warning and a call of
    ``on_stop`` with the error that stopped it.
    """
    if speed is not None and not (
        isinstance(speed, int | float) and math.isfinite(speed) and speed > 0
    ):
        raise ValueError(f"speed must be a positive number, not {speed!r}")
    tape = Tape(path, strict=strict)
    started = tape.header.started
    scale = 1e-9 / (speed or 1.0)

    def subscribe(
        observer: abc.ObserverBase[ConfigChange], subscribe_scheduler: abc.SchedulerBase | None
    ) -> abc.DisposableBase:
        changes = tape.changes(on_stop)
        target = scheduler or subscribe_scheduler
        if target is not None:
            return _Player(changes, observer, target, started=started, scale=scale).disposable
        if speed is not None:
            own = EventLoopScheduler()
            return _Player(changes, observer, own, started=started, scale=scale, own=own).disposable
        try:
            for change in changes:
                observer.on_next(change)
        except TapeError as err:
            observer.on_error(err)
        else:
            observer.on_completed()
        return Disposable()

    return Observable(subscribe)


class _Player:
    """Delivers ``changes`` on ``clock``, each at its distance from ``started`` times ``scale``.

    One change is read ahead and scheduled at a time, so a tape of any length
    holds one scheduled item. ``own`` is a scheduler to stop at the end.
    """

    def __init__(
        self,
        changes: Iterator[ConfigChange],
        observer: abc.ObserverBase[ConfigChange],
        clock: abc.SchedulerBase,
        *,
        started: int,
        scale: float,
        own: EventLoopScheduler | None = None,
    ) -> None:
        self._changes = changes
        self._observer = observer
        self._clock = clock
        self._started = started
        self._scale = scale
        self._own = own
        # Due times in seconds: a virtual-time scheduler takes them without a conversion.
        self._start = clock.to_seconds(clock.now)
        self._last = 0.0
        self._pending: abc.DisposableBase | None = None
        # reactivex's schedulers make a new Disposable (and its lock) for an action that
        # returns None, so ours return one that is spent; a heap scheduler needs none.
        self._spent = None if isinstance(clock, HeapVirtualTimeScheduler) else _SPENT
        self._done = False
        self._action = self._emit  # bound once, not once per change
        self.disposable = Disposable(self._finish)
        clock.schedule(self._next)

    def _finish(self) -> None:
        if not self._done:
            self._done = True
            if self._pending is not None:
                self._pending.dispose()
            if self._own is not None:
                stop_loop(self._own)

    def _emit(self, _: abc.SchedulerBase, change: ConfigChange | None) -> abc.DisposableBase | None:
        if not self._done and change is not None:
            self._observer.on_next(change)
            self._next()
        return self._spent

    def _next(self, *_: object) -> None:
        if self._done:
            return
        try:
            change = next(self._changes, None)
        except Exception as err:
            # A TapeError, short of a bug; either way it goes to the observer. Raised on the
            # replay's own thread, it would end that thread and leave the subscriber waiting.
            self._fail(err)
            return
        if change is None:
            self._finish()
            self._observer.on_completed()
            return
        # Never before the previous one, whatever the recorded clock did: order is kept.
        offset = (change.ts - self._started) * self._scale
        if offset > self._last:  # noqa: PLR1730 - max() is one more call per event
            self._last = offset
        due = self._start + self._last
        try:
            self._pending = self._clock.schedule_absolute(due, self._action, change)
        except DisposedException:
            pass  # an own scheduler disposed meanwhile, from another thread: nothing more to do
        except (OverflowError, ValueError) as err:
            # A clock of datetimes ends in the year 9999, which a slow speed can pass.
            clock = type(self._clock).__name__
            self._fail(ValueError(f"the change at ts {change.ts} is due past {clock}'s end: {err}"))

    def _fail(self, error: Exception) -> None:
        self._finish()
        self._observer.on_error(error)
