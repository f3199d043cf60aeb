"""Reading tapes back: as an iterable of changes, or replayed as a stream with its timing."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, Disposable, SerialDisposable
from reactivex.scheduler import EventLoopScheduler

from confighub._coalesce import stop_loop
from confighub.events import ConfigChange
from confighub.exceptions import TapeError
from confighub.recording._tape import Decoder, TapeHeader, open_lines, parse_line, read_header

__all__ = ["Tape", "read_tape", "replay"]

_log = logging.getLogger("confighub.recording")


class Tape:
    """A tape file: its ``header``, and its changes, read in order each time it is iterated.

    Iterating reads the file lazily, one line at a time, so a tape of any
    length costs the memory of one config. A line that cannot be read raises
    ``TapeError`` naming it; with ``strict=False`` iteration stops before it
    instead, logs a warning, and ``stopped`` holds the error (None after a
    clean read).

    >>> tape = read_tape("incident.tape.jsonl")      # doctest: +SKIP
    >>> [change.new_hash for change in tape]          # doctest: +SKIP
    """

    def __init__(self, path: str | Path, *, strict: bool = True) -> None:
        self.path = Path(path)
        self.strict = strict
        self.stopped: TapeError | None = None
        with open_lines(self.path) as lines:
            self.header: TapeHeader = read_header(str(self.path), lines)

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
        with open_lines(self.path) as lines:
            read_header(name, lines)
            try:
                for number, line in enumerate(lines, start=2):
                    if line.strip():
                        change = decoder.change(number, parse_line(name, number, line))
                        count += 1
                        yield change
            except TapeError as err:
                if self.strict:
                    raise
                self.stopped = err
                _log.warning(
                    "%s: read %d changes, stopped at line %d: %s", name, count, err.line, err.reason
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
    ``TapeError`` naming it. With ``strict=False`` the valid prefix is
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
        own: EventLoopScheduler | None = None
        if target is None and speed is not None:
            own = target = EventLoopScheduler()
        if target is None:
            try:
                for change in changes:
                    observer.on_next(change)
            except TapeError as err:
                observer.on_error(err)
            else:
                observer.on_completed()
            return Disposable()

        clock: abc.SchedulerBase = target
        start = clock.now
        pending = SerialDisposable()
        last = 0.0
        done = False

        def finish() -> None:
            nonlocal done
            if not done:
                done = True
                if own is not None:
                    stop_loop(own)

        def emit(_: abc.SchedulerBase, change: Any) -> None:
            if not done:
                observer.on_next(change)
                schedule_next()

        def schedule_next() -> None:
            nonlocal last
            try:
                change = next(changes, None)
            except TapeError as err:
                finish()
                observer.on_error(err)
                return
            if change is None:
                finish()
                observer.on_completed()
                return
            # Never before the previous one, whatever the recorded clock did: order is kept.
            last = max(last, (change.ts - started) * scale)
            pending.disposable = clock.schedule_absolute(
                start + timedelta(seconds=last), emit, change
            )

        clock.schedule(lambda _, __: schedule_next())
        return CompositeDisposable(pending, Disposable(finish))

    return Observable(subscribe)
