"""A writer that keeps replacing tracepoints through several replicas' HTTP APIs, as ops do.

It goes round the replicas and round its ids, each write a ``PUT`` of the next line
number, so the lines of one id only grow: a config in which an id has gone back to an
older line lost a write, or applied two out of order. Every answer is kept, so a test
can tell the writes acknowledged (2xx) from those refused, and see what they said.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import NamedTuple

from confighub import TracePoint
from tests.http.conftest import call
from tests.support.replicas import Replica
from tests.support.threads import in_thread
from tests.support.waiting import POLL_INTERVAL, TIMEOUT, Recorder

PATH = "shop/orders.py"


class Outcome(NamedTuple):
    """One write sent: the id, the line it put, the replica, the status and the error said."""

    tp_id: str
    line: int
    replica: str
    status: int
    error: str

    @property
    def acknowledged(self) -> bool:
        """Whether the server said it was written."""
        return 200 <= self.status < 300


class PutWriter:
    """A thread writing ``ids`` in turn through ``group`` in turn until ``stop()``."""

    def __init__(self, group: Sequence[Replica], ids: Sequence[str]) -> None:
        self.group = group
        self.ids = ids
        self.outcomes: Recorder[Outcome] = Recorder()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    def __enter__(self) -> PutWriter:
        self._thread = in_thread(self._run)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop after the write in flight; idempotent."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(TIMEOUT)
            assert not self._thread.is_alive(), "the writer did not stop"
        if self._failure is not None:
            raise AssertionError(f"the writer failed: {self._failure!r}") from self._failure

    def wait_for_acknowledged(self, count: int, what: str) -> None:
        """Block until ``count`` more writes than now are acknowledged."""
        start = len(self.acknowledged())
        self.outcomes.wait_for(
            lambda seen: sum(o.acknowledged for o in seen) >= start + count, what
        )

    def wait_for_refused(self, count: int, what: str) -> list[Outcome]:
        """Block until ``count`` more writes than now are refused; return those refused."""
        start = len(self.refused())
        seen = self.outcomes.wait_for(
            lambda seen: sum(not o.acknowledged for o in seen) >= start + count, what
        )
        return [o for o in seen if not o.acknowledged][start:]

    def wait_for_each_id_acknowledged(self, what: str) -> None:
        """Block until a write of each id is acknowledged after now."""
        start = len(self.outcomes.items)
        self.outcomes.wait_for(
            lambda seen: {o.tp_id for o in seen[start:] if o.acknowledged} == set(self.ids), what
        )

    def acknowledged(self) -> list[Outcome]:
        """The writes acknowledged so far, in order."""
        return [o for o in list(self.outcomes.items) if o.acknowledged]

    def refused(self) -> list[Outcome]:
        """The writes refused so far, in order."""
        return [o for o in list(self.outcomes.items) if not o.acknowledged]

    def last_acknowledged(self) -> dict[str, int]:
        """Each id's line as of its last acknowledged write."""
        return {o.tp_id: o.line for o in self.acknowledged()}

    def possible_lines(self) -> dict[str, set[int]]:
        """The lines each id may hold now: its last acknowledged, or one refused after it.

        A refused write may have been made all the same (Redis ran it, and went away
        before its answer came back), but only a write after the last one acknowledged
        may be what the id holds: anything older would be a write lost or reordered.
        """
        possible: dict[str, set[int]] = {}
        for outcome in self.outcomes.items:
            if outcome.acknowledged:
                possible[outcome.tp_id] = {outcome.line}
            elif outcome.tp_id in possible:
                possible[outcome.tp_id].add(outcome.line)
        return possible

    def _run(self) -> None:
        try:
            self._write()
        except BaseException as err:  # told by stop(), on the test's thread
            self._failure = err

    def _write(self) -> None:
        for step in range(1, 1_000_000):
            if self._stopping.is_set():
                return
            replica = self.group[step % len(self.group)]
            tp_id = self.ids[step % len(self.ids)]
            body = {"tracepoint": {"path": PATH, "lineNumber": step}}
            answer = call("PUT", f"{replica.http_url}/api/tracepoints/{tp_id}", body=body)
            error = "" if answer.status == 200 else answer.error
            self.outcomes(Outcome(tp_id, step, replica.name, answer.status, error))
            if not 200 <= answer.status < 300:
                # Refusals come back at once: a pause keeps the outage from being a busy loop.
                self._stopping.wait(POLL_INTERVAL)


def lines_of(tracepoints: Sequence[TracePoint], ids: Sequence[str]) -> dict[str, int]:
    """The line of each of ``ids`` among ``tracepoints``."""
    return {tp.id: tp.line for tp in tracepoints if tp.id in ids}
