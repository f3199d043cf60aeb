"""Writing tapes: a ``Recorder`` observer, and ``record`` to attach one to a stream."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from reactivex import Observable, abc

from confighub._internal.lifecycle import Closing
from confighub.events import ConfigChange
from confighub.tapes._delta import Encoder
from confighub.tapes._format import TapeHeader

__all__ = ["Recorder", "record"]


class Recorder(abc.ObserverBase[ConfigChange], Closing):
    """An observer that writes each change it sees to a tape at ``path``, one line each.

    The file is created (or truncated) with its header at once. Each change is
    appended and flushed before ``on_next`` returns, so a crash loses at most
    the change being written (a truncated last line, which replay reports);
    ``fsync=True`` also survives a power cut, at the price of a disk sync per
    change. ``started`` (ns since the epoch, default now) is the time replay
    counts from: give the stream's clock, for a virtual one. Completion, an
    error or ``close()`` closes the file; later changes are ignored.

    >>> with Recorder("today.tape.jsonl", source="prod-config:43315") as recorder:
    ...     hub.changes_with_current().subscribe(recorder)   # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | Path,
        *,
        source: str | None = None,
        started: int | None = None,
        fsync: bool = False,
    ) -> None:
        self.path = Path(path)
        self.header = TapeHeader(time.time_ns() if started is None else started, source)
        self.count = 0
        self.subscription: abc.DisposableBase | None = None
        self._fsync = fsync
        self._encoder = Encoder()
        self._lock = threading.Lock()
        self._file = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        self._write(json.dumps(self.header.to_json(), ensure_ascii=False) + "\n")

    @property
    def closed(self) -> bool:
        """True once the tape is closed: nothing more is written."""
        return self._file.closed

    def on_next(self, value: ConfigChange) -> None:
        """Append ``value`` to the tape."""
        with self._lock:
            if self._file.closed:
                return
            self._write(self._encoder.line(value))
            self.count += 1

    def on_error(self, error: Exception) -> None:
        """The stream failed: close the tape with what it holds."""
        self.close()

    def on_completed(self) -> None:
        """The stream ended: close the tape."""
        self.close()

    def close(self) -> None:
        """Stop recording: unsubscribe (after ``record``) and close the file."""
        if self.subscription is not None:
            self.subscription.dispose()
        with self._lock:
            self._file.close()

    def _write(self, line: str) -> None:
        self._file.write(line)
        self._file.flush()
        if self._fsync:
            os.fsync(self._file.fileno())

    def __repr__(self) -> str:
        state = "closed" if self.closed else "recording"
        return f"<Recorder {str(self.path)!r}: {self.count} changes, {state}>"


def record(
    observable: Observable[ConfigChange],
    path: str | Path,
    *,
    source: str | None = None,
    started: int | None = None,
    fsync: bool = False,
    scheduler: abc.SchedulerBase | None = None,
) -> Recorder:
    """Record ``observable`` to a tape at ``path`` until it ends or the recorder is closed.

    >>> recorder = record(hub.changes_with_current(), "today.tape.jsonl")  # doctest: +SKIP
    >>> ...
    >>> recorder.close()                                                  # doctest: +SKIP
    """
    recorder = Recorder(path, source=source, started=started, fsync=fsync)
    subscription = observable.subscribe(recorder, scheduler=scheduler)
    if recorder.closed:
        subscription.dispose()
    else:
        recorder.subscription = subscription
    return recorder
