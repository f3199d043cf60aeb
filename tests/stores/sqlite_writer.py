"""The child of ``test_sqlite_durability``: writes a SqliteStore from 8 threads until killed.

Run as ``python sqlite_writer.py PATH ROUND``. Each thread creates, replaces and
deletes tracepoints of a few ids (some writes with ``expected_hash``, so some are
refused as stale) in one of two tenants. Each write that returned is acknowledged with
one JSON line on stdout, written and flushed at once: ``tenant``, ``id``, ``line`` (None
for a delete) and the ``version`` the write made. Every write gets a line number of its
own (``ROUND`` millions and a count), so a value read back names the write that made it.
"""

from __future__ import annotations

import itertools
import json
import random
import sys
import threading

from confighub.exceptions import StaleConfig, TracePointExists, UnknownTracePoint
from confighub.model import TracePoint
from confighub.stores import SqliteStore

THREADS = 8
IDS = tuple(f"tp-{number}" for number in range(12))
TENANTS = ("", "acme")


class Acknowledger:
    """Hands out the line numbers of writes and prints each acknowledged one, a line at a time."""

    def __init__(self, first: int) -> None:
        self._lock = threading.Lock()
        self._lines = itertools.count(first)

    def next_line(self) -> int:
        """A line number no other write of this run has."""
        with self._lock:
            return next(self._lines)

    def acknowledge(self, tenant: str, tp_id: str, line: int | None, version: int) -> None:
        """Print one write that returned, flushed before the writer goes on."""
        text = json.dumps({"tenant": tenant, "id": tp_id, "line": line, "version": version})
        with self._lock:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()


def write_forever(store: SqliteStore, number: int, acks: Acknowledger) -> None:
    """Write tracepoints of ``IDS`` to one tenant of ``store`` until the process dies."""
    choice = random.Random(number)
    tenant = TENANTS[number % len(TENANTS)]
    target = store.tenant(tenant)
    while True:
        tp_id = choice.choice(IDS)
        expected = target.hash if choice.random() < 0.3 else None
        operation = choice.choice(("create", "replace", "replace", "delete"))
        line: int | None = None
        try:
            if operation == "delete":
                state, _ = target.delete(tp_id, expected_hash=expected)
            else:
                line = acks.next_line()
                tp = TracePoint(tp_id, f"writer{number}.py", line)
                write = target.create if operation == "create" else target.replace
                state = write(tp, expected_hash=expected)
        except (StaleConfig, TracePointExists, UnknownTracePoint):
            # Refused, so not acknowledged. Anything else ends the thread, and the test
            # sees it on stderr.
            continue
        acks.acknowledge(tenant, tp_id, line, state.version)


def main() -> None:
    """Open the store named on the command line and write to it from every thread."""
    path, round_number = sys.argv[1], int(sys.argv[2])
    store = SqliteStore(path)
    acks = Acknowledger(round_number * 1_000_000)
    threads = [
        threading.Thread(target=write_forever, args=(store, number, acks), daemon=True)
        for number in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()  # never returns: the parent kills the process


if __name__ == "__main__":
    main()
