"""`confighub serve --store sqlite:` killed with SIGKILL while 8 HTTP writers run.

The server is a real process; the writers are threads here, each sending PUTs and
DELETEs of ids of its own over the HTTP API. Every write the server acknowledged
(answered 200) must be in the file when a new server opens it, and the one write
each writer had in flight at the kill is either wholly there or not at all.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from confighub.model import TracePoint, config_hash
from tests.support.http_json import send
from tests.support.waiting import TIMEOUT

WRITERS = 8
IDS_PER_WRITER = 4
KILL_AFTER = 160
"""Acknowledged writes, over all writers, after which the server is killed."""


class Write(NamedTuple):
    """One write a writer sent: the id, and its line (None for a delete)."""

    tp_id: str
    line: int | None


@contextlib.contextmanager
def serving(db: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`confighub serve --store sqlite:DB` with its HTTP API; yields the process and its URL."""
    command = [sys.executable, "-m", "confighub", "serve", "--store", f"sqlite:{db}"]
    command += ["--port", "0", "--http-port", "0"]
    child = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stderr is not None
        url = None
        for line in child.stderr:
            found = re.search(r"(http://127\.0\.0\.1:\d+)", line)
            if found is not None and "Ctrl-C stops" in line:
                url = found[1]
                break
        assert url is not None, "the server never said where it serves"
        yield child, url
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(TIMEOUT)
        if child.stderr is not None:
            child.stderr.close()


class Writers:
    """Eight threads writing until the server dies; what each had acknowledged, and in flight."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.lock = threading.Lock()
        self.acknowledged: list[list[Write]] = [[] for _ in range(WRITERS)]
        self.in_flight: list[Write | None] = [None] * WRITERS
        self.count = 0
        self.enough = threading.Event()

    def run(self, writer: int) -> None:
        for step in range(1_000_000):
            tp_id = f"w{writer}-{step % IDS_PER_WRITER}"
            write = Write(tp_id, None if step % 5 == 4 else step + 1)
            self.in_flight[writer] = write
            try:
                if write.line is None:
                    send(f"{self.url}/api/tracepoints/{tp_id}", "DELETE")
                else:
                    body = {"tracepoint": {"path": "shop/cart.py", "lineNumber": write.line}}
                    send(f"{self.url}/api/tracepoints/{tp_id}", "PUT", body)
            except urllib.error.HTTPError as err:
                if err.code != 404:  # a delete of an id not written yet
                    raise
            except OSError:
                return  # the server is gone: this write may or may not have landed
            with self.lock:
                self.acknowledged[writer].append(write)
                self.in_flight[writer] = None
                self.count += 1
                if self.count >= KILL_AFTER:
                    self.enough.set()


def expected(acknowledged: list[Write]) -> dict[str, int | None]:
    """Each id's line after these writes in order (None: absent)."""
    lines: dict[str, int | None] = {}
    for write in acknowledged:
        lines[write.tp_id] = write.line
    return lines


def test_every_acknowledged_write_survives_a_sigkill_mid_write(tmp_path: Path) -> None:
    """Killed while 8 writers run, the reopened file holds every acknowledged write, whole."""
    db = tmp_path / "hub.db"
    with serving(db) as (child, url):
        writers = Writers(url)
        threads = [threading.Thread(target=writers.run, args=(n,)) for n in range(WRITERS)]
        for thread in threads:
            thread.start()
        assert writers.enough.wait(TIMEOUT), "the writers never got far enough"
        os.kill(child.pid, signal.SIGKILL)
        for thread in threads:
            thread.join(TIMEOUT)
    with serving(db) as (_, url):
        listed = send(f"{url}/api/tracepoints", "GET")
    served = [TracePoint.from_json(data) for data in listed.get("response", [])]
    assert listed["currentHash"] == config_hash(served)
    lines = {tp.id: tp.line for tp in served}
    assert len(lines) == len(served), "an id is served twice"
    for writer in range(WRITERS):
        done = expected(writers.acknowledged[writer])
        flying = writers.in_flight[writer]
        landed = expected([*writers.acknowledged[writer], flying]) if flying else done
        for n in range(IDS_PER_WRITER):
            tp_id = f"w{writer}-{n}"
            assert lines.get(tp_id) in {done.get(tp_id), landed.get(tp_id)}, tp_id
    assert sum(map(len, writers.acknowledged)) >= KILL_AFTER
    assert served, "nothing survived"
    # The writers never pause, so the kill caught writes mid-flight.
    assert any(flying is not None for flying in writers.in_flight)
