"""A file still being written is never read: the watcher waits for it to settle.

The writers here pause on purpose, as slow writers do; the pauses are chosen against
the settle time with a wide margin either way, and nothing asserts on how long anything
took. Before the watcher settled, each of these saw the file half-written.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from confighub import ConfigHub, SourceState
from confighub._internal import filewatch
from confighub.files import dump_tracepoints
from confighub.model import TracePoint
from confighub.sources import FileSource
from tests.support.observing import states, watch
from tests.support.waiting import TIMEOUT

MANY = [TracePoint(f"tp-{n}", "shop/cart.py", n) for n in range(1, 501)]
FULL = dump_tracepoints(MANY)
# A cut at an entry's start: the first half is a valid file of 250 tracepoints by itself.
HALF = FULL[: FULL.index("- id: tp-251")]
GOOD = "tracepoints:\n  - {id: a, path: a.py, line: 1}\n"


def test_a_writer_pausing_mid_file_is_never_served_half(tmp_path: Path, hub: ConfigHub) -> None:
    """A rewrite that pauses half-way (less than the settle) is applied once, whole."""
    path = tmp_path / "tp.yaml"
    path.write_text(GOOD, encoding="utf-8")
    changes, statuses = watch(hub)
    with FileSource(path, hub, debounce_ms=600):
        with path.open("w", encoding="utf-8") as file:
            file.write(HALF)
            file.flush()
            time.sleep(0.15)  # the writer's own pause, not a wait for the watcher
            file.write(FULL[len(HALF) :])
        changes.wait_for(lambda items: len(items[-1].new) == 500, "the whole file")
    assert [len(change.new) for change in changes.items] == [1, 500]
    assert SourceState.INTERRUPTED not in states(statuses.items)


def test_truncate_then_slow_write_no_longer_reports_an_empty_file(
    tmp_path: Path, hub: ConfigHub
) -> None:
    """``open(path, "w")``, a pause past one settle, then the write: no 'empty file' error."""
    path = tmp_path / "tp.yaml"
    path.write_text(GOOD, encoding="utf-8")
    changes, statuses = watch(hub)
    with FileSource(path, hub, debounce_ms=400):
        with path.open("w", encoding="utf-8") as file:
            file.flush()
            # Past one settle (the empty file is seen settled) and well short of two (it
            # is looked at again before it would be reported).
            time.sleep(0.6)
            file.write(FULL)
        changes.wait_for(lambda items: len(items) == 2, "the written file")
    assert SourceState.INTERRUPTED not in states(statuses.items)
    assert len(changes.items[-1].new) == 500


def test_a_file_that_never_settles_is_no_longer_stale_in_silence(
    tmp_path: Path,
    hub: ConfigHub,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A file rewritten faster than it settles is said to be changing, then read once it stops."""
    monkeypatch.setattr(filewatch, "_STILL_CHANGING_S", 0.5)
    path = tmp_path / "tp.yaml"
    path.write_text(GOOD, encoding="utf-8")
    changes, _ = watch(hub)
    caplog.set_level(logging.WARNING, logger="confighub")
    with FileSource(path, hub, debounce_ms=300):
        deadline = time.monotonic() + TIMEOUT
        while "kept changing" not in caplog.text and time.monotonic() < deadline:
            path.write_text(FULL if len(path.read_text(encoding="utf-8")) < 100 else GOOD)
            time.sleep(0.02)  # the writer's own pace: far faster than the settle
        path.write_text(FULL, encoding="utf-8")
        changes.wait_for(lambda items: len(items) == 2, "the file once it settled")
    assert caplog.text.count("kept changing") == 1
    assert [len(change.new) for change in changes.items] == [1, 500]
