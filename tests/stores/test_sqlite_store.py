"""SqliteStore keeps MemoryStore's semantics, and keeps them across a reopen of its file.

Every test works on a real file in ``tmp_path``. A store is checked, then closed and
opened again from the file: the same tracepoints in the same order, the same hash and
the same version. The refusals of a file (in use, not a store, another schema) are
here too; disk faults and kill -9 are in ``test_sqlite_durability``.
"""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from deepproto.proto.tracepoint.v1 import tracepoint_pb2
from hypothesis import given
from hypothesis import strategies as st

from confighub.exceptions import (
    InvalidTracePoint,
    StaleConfig,
    StoreError,
    StoreUnavailable,
    TracePointExists,
    UnknownTracePoint,
)
from confighub.model import LabelExpression, MetricDefinition, TracePoint, config_hash
from confighub.stores import MemoryStore, SqliteStore, StoreState, TenantStores, WritableStore
from tests.support.strategies import tracepoints

A = TracePoint("a", "app.py", 1)
B = TracePoint("b", "app.py", 2, {"fire_count": "3"})
C = TracePoint("c", "lib.py", 3, targeting={"env": ["prod", 1, 1.5]})


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """Where the test's store file goes (not made yet)."""
    return tmp_path / "hub.db"


@pytest.fixture
def store(path: Path) -> Iterator[SqliteStore]:
    """A new, empty SqliteStore on ``path``, closed after the test."""
    with SqliteStore(path) as opened:
        yield opened


def reopened(store: SqliteStore, tenant: str = "") -> StoreState:
    """Close ``store``, open its file again and return the state of ``tenant`` there."""
    store.close()
    with SqliteStore(store.path) as again:
        return again.tenant(tenant).state


def test_it_is_a_writable_store_of_tenants(store: SqliteStore) -> None:
    """SqliteStore has the WritableStore and TenantStores protocols, and starts empty at 0."""
    assert isinstance(store, WritableStore)
    assert isinstance(store, TenantStores)
    assert store.state == StoreState(0, (), config_hash(()))


def test_writes_behave_as_memory_stores_and_persist(store: SqliteStore) -> None:
    """Create appends, replace keeps the position, delete returns the removed one: all reopened."""
    memory = MemoryStore()
    for target in (store, memory):
        target.create(A)
        target.create(B)
        target.create(C)
        target.replace(TracePoint("a", "app.py", 10))
        target.replace(TracePoint("d", "new.py", 4))
        _, removed = target.delete("b")
        assert removed == B
    assert store.state == memory.state
    assert [tp.id for tp in store.tracepoints] == ["a", "c", "d"]
    assert store.version == 6
    assert reopened(store) == memory.state


def test_create_refuses_an_id_in_use_and_changes_nothing(store: SqliteStore) -> None:
    """A create of a used id raises TracePointExists; state and file keep what they had."""
    before = store.create(A)
    with pytest.raises(TracePointExists, match="'a' exists already"):
        store.create(TracePoint("a", "other.py", 9))
    assert store.state is before
    assert reopened(store) == before


def test_delete_of_an_unknown_id_raises_and_changes_nothing(store: SqliteStore) -> None:
    """A delete of an id no tracepoint has raises UnknownTracePoint, a LookupError."""
    before = store.create(A)
    with pytest.raises(UnknownTracePoint) as caught:
        store.delete("nope")
    assert isinstance(caught.value, LookupError)
    assert store.state is before
    assert reopened(store) == before


def test_a_write_that_keeps_the_hash_is_no_new_version(store: SqliteStore) -> None:
    """Replacing a tracepoint with an equal one keeps the state object and the version."""
    before = store.create(A)
    assert store.replace(TracePoint("a", "app.py", 1)) is before
    assert reopened(store).version == 1


def test_a_stale_expected_hash_raises_and_changes_nothing_on_disk(store: SqliteStore) -> None:
    """Compare-and-set: the current hash applies, an older one raises StaleConfig for each write."""
    first = store.create(A)
    second = store.create(B, expected_hash=first.hash)
    stale = first.hash
    with pytest.raises(StaleConfig):
        store.create(C, expected_hash=stale)
    with pytest.raises(StaleConfig):
        store.replace(C, expected_hash=stale)
    with pytest.raises(StaleConfig):
        store.delete("a", expected_hash=stale)
    assert store.state is second
    assert reopened(store) == second


def test_set_replaces_the_whole_config_in_one_write(store: SqliteStore) -> None:
    """Set works as MemoryStore.set: one version, unchanged objects kept, repeated ids refused."""
    store.create(A)
    store.create(B)
    state = store.set([C, B])
    assert state.version == 3
    assert state.tracepoints == (C, B)
    assert state.tracepoints[1] is B
    with pytest.raises(InvalidTracePoint, match="used by two tracepoints"):
        store.set([A, A])
    with pytest.raises(TypeError, match="TracePoint objects"):
        store.set(["a"])  # type: ignore[list-item]
    assert store.state is state
    assert reopened(store) == state


def test_listeners_hear_each_committed_write_and_no_refused_one(store: SqliteStore) -> None:
    """A subscriber gets the state of each write that changed the config, once, in order."""
    heard: list[StoreState] = []
    store.subscribe(heard.append)
    first = store.create(A)
    with pytest.raises(StoreError):
        store.create(A)
    store.replace(A)
    second, _ = store.delete("a")
    assert heard == [first, second]


def test_tenants_are_separate_configs_in_one_file(store: SqliteStore) -> None:
    """Each tenant has its own config and versions, the same object on each call, all persisted."""
    acme = store.tenant("acme")
    assert store.tenant("acme") is acme
    assert store.tenant("") is store
    store.create(A)
    acme.create(B)
    acme.create(A)
    assert store.tracepoints == (A,)
    assert acme.tracepoints == (B, A)
    assert "tenant='acme'" in repr(acme)
    with pytest.raises(ValueError, match="invalid tenant id"):
        store.tenant("..")
    acme_state, own_state = acme.state, store.state
    store.close()
    with SqliteStore(store.path) as again:
        assert again.state == own_state
        assert again.tenant("acme").state == acme_state
        assert again.tenant("other").state == StoreState(0, (), config_hash(()))


def test_every_field_survives_the_file(store: SqliteStore) -> None:
    """Metrics, args, watches and nested targeting read back equal, with the same digest."""
    tp = TracePoint(
        "full",
        "app.py",
        7,
        {"condition": "x > 1", "snapshot": "no_collect", "log_msg": "hi"},
        ["x", "y"],
        [MetricDefinition("m", "GAUGE", [LabelExpression("k", static=1)], unit="ms")],
        {"env": {"region": ["eu", 2, 2.0, b"raw"]}, "on": True},
    )
    store.create(tp)
    (back,) = reopened(store).tracepoints
    assert back == tp
    assert back.digest == tp.digest


def test_a_row_that_no_longer_validates_is_logged_and_left_out(
    store: SqliteStore, caplog: pytest.LogCaptureFixture
) -> None:
    """A body the model refuses is left out with a warning; the rest loads and writes go on."""
    store.create(A)
    store.create(B)
    store.close()
    # As though a rule had changed since: rows written when they were valid, and
    # counted in the tenant's hash, that the model refuses now.
    bad = tracepoint_pb2.TracePointConfig(ID="bad", path="", line_number=1)
    with sqlite3.connect(store.path) as raw:
        raw.executemany(
            "INSERT INTO tracepoints (tenant, id, position, body) VALUES ('', ?, ?, ?)",
            [("bad", 5, bad.SerializeToString()), ("junk", 6, b"\xff\xff\xff")],
        )
        raw.execute("UPDATE tenants SET hash = ?", (config_hash((A, B, C)),))
    raw.close()
    with caplog.at_level(logging.WARNING, "confighub"), SqliteStore(store.path) as again:
        assert again.tracepoints == (A, B)
        # What is served differs from what the file's tenant row names: a new version.
        assert again.version == 3
        assert again.hash == config_hash((A, B))
        again.create(TracePoint("bad", "fixed.py", 1))
        assert [tp.id for tp in again.tracepoints] == ["a", "b", "bad"]
        left_out = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert len(left_out) == 2
    assert "'bad'" in left_out[0]
    assert "must not be empty" in left_out[0]
    assert [tp.id for tp in reopened(SqliteStore(store.path)).tracepoints] == ["a", "b", "bad"]


def test_a_second_server_on_the_file_is_refused_while_the_first_holds_it(
    store: SqliteStore,
) -> None:
    """Another process opening the file gets StoreUnavailable naming the other server."""
    store.create(A)
    script = (
        "import sys\n"
        "from confighub.exceptions import StoreUnavailable\n"
        "from confighub.stores import SqliteStore\n"
        "try:\n"
        "    SqliteStore(sys.argv[1]).close()\n"
        "except StoreUnavailable as err:\n"
        "    print(err)\n"
        "    sys.exit(3)\n"
    )
    command = [sys.executable, "-c", script, str(store.path)]
    refused = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert refused.returncode == 3, refused.stderr
    assert "in use by another confighub server" in refused.stdout
    assert str(store.path) in refused.stdout
    with pytest.raises(StoreUnavailable, match="in use by another confighub server"):
        SqliteStore(store.path)  # in this process as well
    store.close()
    allowed = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr


def test_after_close_the_config_reads_and_writes_are_refused(store: SqliteStore) -> None:
    """close() keeps the state readable; a write or a tenant not read yet is StoreUnavailable."""
    state = store.create(A)
    store.close()
    store.close()
    assert store.state is state
    with pytest.raises(StoreUnavailable, match="it was closed"):
        store.create(B)
    with pytest.raises(StoreUnavailable, match="it was closed"):
        store.tenant("later")
    assert "hub.db" in repr(store)


def test_a_file_that_is_not_a_database_is_refused(path: Path) -> None:
    """Text where the store file should be: StoreUnavailable naming it, the file untouched."""
    path.write_text("tracepoints: []\n" * 100)
    with pytest.raises(StoreUnavailable, match="not an SQLite database") as caught:
        SqliteStore(path)
    assert str(path) in str(caught.value)
    assert path.read_text() == "tracepoints: []\n" * 100


def test_a_database_of_another_application_is_refused(path: Path) -> None:
    """An SQLite file without confighub's meta table is not written into."""
    with sqlite3.connect(path) as other:
        other.execute("CREATE TABLE users (name TEXT)")
    other.close()
    with pytest.raises(StoreUnavailable, match="not a confighub store"):
        SqliteStore(path)


def test_a_database_of_another_schema_version_is_refused(store: SqliteStore) -> None:
    """A store file whose meta names another schema version is refused, never migrated."""
    store.close()
    with sqlite3.connect(store.path) as raw:
        raw.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    raw.close()
    with pytest.raises(StoreUnavailable, match="schema version is '2'"):
        SqliteStore(store.path)


def test_a_missing_folder_or_a_folder_path_is_refused_saying_so(tmp_path: Path) -> None:
    """The open errors SQLite words alike are told apart: no folder, or a folder for a file."""
    with pytest.raises(StoreUnavailable, match="does not exist: make it"):
        SqliteStore(tmp_path / "missing" / "hub.db")
    with pytest.raises(StoreUnavailable, match="it is a folder"):
        SqliteStore(tmp_path)
    with pytest.raises(ValueError, match="synchronous must be one of"):
        SqliteStore(tmp_path / "hub.db", synchronous="SOMETIMES")


_IDS = st.sampled_from(["a", "b", "c"])
# A first config for the writes below to work on: a few ids in use from the start, so that
# a replace or a delete finds one before the last (drawn ids lean to the first choice).
_FIRST = st.lists(tracepoints(ids=_IDS), max_size=3, unique_by=lambda tp: tp.id)
# One write: (operation, tracepoint, id to delete, whether to expect a stale hash).
_WRITES = st.tuples(
    st.sampled_from(["create", "replace", "delete", "set"]),
    tracepoints(ids=_IDS),
    _IDS,
    st.sampled_from([False, False, False, True]),
)


def _apply(target: SqliteStore | MemoryStore, write: tuple[str, TracePoint, str, bool]) -> object:
    """Run one write on ``target``; return the state it left, or the type of error it raised."""
    operation, tp, tp_id, stale = write
    expected = config_hash([tp]) if stale else target.hash
    try:
        if operation == "create":
            return target.create(tp, expected_hash=expected)
        if operation == "replace":
            return target.replace(tp, expected_hash=expected)
        if operation == "delete":
            return target.delete(tp_id, expected_hash=expected)
        return target.set([tp, *(old for old in target.tracepoints if old.id != tp.id)])
    except StoreError as err:
        return type(err)


@given(_FIRST, st.lists(_WRITES, max_size=12))
def test_random_writes_agree_with_a_memory_store_also_after_reopening(
    first: list[TracePoint], writes: list[tuple[str, TracePoint, str, bool]]
) -> None:
    """Any sequence of writes leaves SqliteStore where it leaves MemoryStore, and its file too."""
    memory = MemoryStore()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hub.db"
        with SqliteStore(path, synchronous="OFF") as store:
            assert store.set(first) == memory.set(first)
        for write in writes:
            # Reopened after each write: a later set rewrites every row, and would hide
            # a write that stored the right rows in the wrong order. The property is about
            # what a write does, not when it reaches the platter: no syncs.
            with SqliteStore(path, synchronous="OFF") as store:
                assert store.state == memory.state
                assert _apply(store, write) == _apply(memory, write)
        with SqliteStore(path) as again:
            assert again.state == memory.state
            assert [tp.digest for tp in again.tracepoints] == [
                tp.digest for tp in memory.tracepoints
            ]
