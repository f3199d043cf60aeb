"""Stores behind ``HubServer``: ``MemoryStore`` from code, ``FileStore`` following a file."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from confighub import InvalidTracePoint, TracePoint, config_hash
from confighub._internal.text import short_hash
from confighub.exceptions import TracePointFileError
from confighub.files import dump_tracepoints
from confighub.server import FileStore, MemoryStore, Store, StoreState
from tests.support.edits import replace_file
from tests.support.threads import alive, started_since
from tests.support.waiting import TIMEOUT

A = TracePoint("a", "a.py", 1)
B = TracePoint("b", "b.py", 2)


def test_memory_store_versions_count_changes_of_hash() -> None:
    """set/add/remove bump the version once per change; a write with the same hash is none."""
    store = MemoryStore([A])
    assert isinstance(store, Store)
    assert store.state == StoreState(0, (A,), config_hash([A]))
    seen: list[StoreState] = []
    store.subscribe(seen.append)
    assert store.add(B).version == 1
    assert store.set([B, A]).version == 1
    assert store.remove("a") is True
    assert store.remove("a") is False
    moved = TracePoint("b", "b.py", 3)
    store.add(moved)
    assert (store.version, store.tracepoints, store.hash) == (3, (moved,), config_hash([moved]))
    assert [state.version for state in seen] == [1, 2, 3]
    assert seen[-1] == store.state


def test_memory_store_refuses_two_tracepoints_with_one_id() -> None:
    """A config with a repeated id raises InvalidTracePoint naming it, and changes nothing."""
    store = MemoryStore([A])
    with pytest.raises(InvalidTracePoint, match="'b'"):
        store.set([B, TracePoint("b", "other.py", 9)])
    assert store.state == StoreState(0, (A,), config_hash([A]))


def test_a_raising_callback_is_logged_and_others_still_hear(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One subscriber raising neither stops the others nor reaches the writer."""
    store = MemoryStore()
    heard: list[int] = []

    def broken(_: StoreState) -> None:
        raise RuntimeError("subscriber broke")

    store.subscribe(broken)
    unsubscribe = store.subscribe(lambda state: heard.append(state.version))
    store.add(A)
    unsubscribe()
    unsubscribe()
    store.add(B)
    assert heard == [1]
    assert "subscriber broke" in caplog.text


def test_concurrent_writers_lose_nothing_and_callbacks_see_versions_in_order() -> None:
    """Eight threads adding 100 tracepoints each: all 800 kept; versions arrive increasing."""
    store = MemoryStore()
    seen: list[int] = []
    store.subscribe(lambda state: seen.append(state.version))

    def writer(worker: int) -> None:
        for line in range(100):
            store.add(TracePoint(f"w{worker}-{line}", f"w{worker}.py", line))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(store.tracepoints), store.version) == (800, 800)
    assert seen == sorted(set(seen))
    assert seen[-1] == 800


def test_a_callback_that_writes_the_store_is_never_shown_an_older_state() -> None:
    """A write made by a callback is delivered at once, and the older state not after it."""
    store = MemoryStore()
    seen: list[int] = []

    def echo(state: StoreState) -> None:
        if state.version == 1:
            store.add(B)

    store.subscribe(echo)
    store.subscribe(lambda state: seen.append(state.version))
    store.add(A)
    assert seen == [2]


@pytest.fixture
def tracepoint_file(tmp_path: Path) -> Path:
    path = tmp_path / "tracepoints.yaml"
    path.write_text(dump_tracepoints([A]), encoding="utf-8")
    return path


class Recorder:
    """Collects a FileStore's changes and errors, with events to wait on."""

    def __init__(self) -> None:
        self.changed = threading.Event()
        self.failed = threading.Event()
        self.errors: list[TracePointFileError] = []

    def on_change(self, _: StoreState) -> None:
        self.changed.set()

    def on_error(self, err: TracePointFileError) -> None:
        self.errors.append(err)
        self.failed.set()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def file_store(tracepoint_file: Path, recorder: Recorder) -> Iterator[FileStore]:
    with FileStore(tracepoint_file, on_error=recorder.on_error, debounce_ms=10) as store:
        store.subscribe(recorder.on_change)
        yield store


def test_file_store_reloads_on_edit(file_store: FileStore, tracepoint_file: Path) -> None:
    """Replacing the file serves its new content, as a new version."""
    assert file_store.state == StoreState(0, (A,), config_hash([A]))
    changed = threading.Event()
    file_store.subscribe(lambda _: changed.set())
    replace_file(tracepoint_file, dump_tracepoints([A, B], format="json"))
    assert changed.wait(TIMEOUT), "the edit was not picked up"
    assert (file_store.version, file_store.tracepoints) == (1, (A, B))
    assert file_store.error is None


BAD_EDITS = {
    "invalid YAML": ("tracepoints: [\n  {path: a.py, line: 1\n", 3, "invalid YAML"),
    "empty file": ("", None, "the file is empty"),
    "not a mapping": ("- path: a.py\n  line: 1\n", 1, "expected a mapping"),
    "bad stage": (
        "tracepoints:\n  - path: a.py\n    line: 1\n  - path: b.py\n    line: 2\n"
        "    args: {stage: whenever}\n",
        4,
        "args.stage",
    ),
    "negative fire_count": (
        "tracepoints:\n  - path: a.py\n    line: 1\n    args: {fire_count: -2}\n",
        2,
        "args.fire_count",
    ),
    "non-numeric line": ("tracepoints:\n  - path: a.py\n    line: forty\n", 2, "'line'"),
}


@pytest.mark.parametrize("edit", BAD_EDITS.values(), ids=BAD_EDITS.keys())
def test_a_bad_edit_keeps_the_last_good_config_and_says_why(
    file_store: FileStore,
    tracepoint_file: Path,
    recorder: Recorder,
    caplog: pytest.LogCaptureFixture,
    edit: tuple[str, int | None, str],
) -> None:
    """A bad edit is refused naming the file, line and reason; the good config stays served."""
    text, line, reason = edit
    good = file_store.state
    replace_file(tracepoint_file, text)
    assert recorder.failed.wait(TIMEOUT), "the bad edit was not reported"
    err = recorder.errors[0]
    assert (err.path, err.line) == (str(tracepoint_file), line)
    assert reason in err.reason
    assert file_store.error is err
    assert file_store.state == good
    assert not recorder.changed.is_set()
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    where = f"{tracepoint_file}:{line}" if line is not None else str(tracepoint_file)
    assert any(
        message.startswith(where)
        and f"kept the last good config, hash {short_hash(good.hash)}" in message
        for message in logged
    ), logged

    replace_file(tracepoint_file, dump_tracepoints([B]))
    assert recorder.changed.wait(TIMEOUT), "the mended file was not picked up"
    assert file_store.tracepoints == (B,)
    assert file_store.state.hash == config_hash([B])
    assert not isinstance(file_store.error, TracePointFileError)


def test_a_removed_file_keeps_the_last_good_config(
    file_store: FileStore, tracepoint_file: Path, recorder: Recorder
) -> None:
    """Deleting the file is reported as unreadable; the config it held stays served."""
    tracepoint_file.unlink()
    assert recorder.failed.wait(TIMEOUT), "the removal was not reported"
    assert "cannot read the file" in recorder.errors[0].reason
    assert file_store.tracepoints == (A,)


def test_a_bad_initial_file_raises(tmp_path: Path) -> None:
    """A FileStore cannot start from a bad file: the TracePointFileError says why."""
    path = tmp_path / "bad.yaml"
    path.write_text("tracepoints: {}\n", encoding="utf-8")
    with pytest.raises(TracePointFileError, match="must be a list"):
        FileStore(path)
    with pytest.raises(TracePointFileError, match="cannot read"):
        FileStore(tmp_path / "missing.yaml")


def test_an_unwatched_file_store_reloads_on_demand(tracepoint_file: Path) -> None:
    """With watch=False no thread is started; reload() reads the file and says if it was good."""
    before = alive()
    store = FileStore(tracepoint_file, watch=False)
    assert not started_since(before)
    tracepoint_file.write_text(dump_tracepoints([B]), encoding="utf-8")
    assert store.reload() is True
    assert store.tracepoints == (B,)
    tracepoint_file.write_text("tracepoints: nope\n", encoding="utf-8")
    assert store.reload() is False
    assert (store.tracepoints, store.version) == ((B,), 1)
    assert "error" in repr(store)


def test_close_stops_the_watching_thread(tracepoint_file: Path) -> None:
    """close() joins the watcher thread; closing twice is harmless."""
    before = alive()
    store = FileStore(tracepoint_file)
    store.close()
    store.close()
    assert not started_since(before)
