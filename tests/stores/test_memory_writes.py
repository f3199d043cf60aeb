"""MemoryStore as a WritableStore and TenantStores; FileStore refusing writes."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from confighub.exceptions import (
    ReadOnlyStore,
    StaleConfig,
    TracePointExists,
    UnknownTracePoint,
)
from confighub.files import dump_tracepoints
from confighub.model import TracePoint, config_hash
from confighub.stores import FileStore, MemoryStore, StoreState, TenantStores, WritableStore


def tp(tp_id: str, line: int = 1) -> TracePoint:
    return TracePoint(tp_id, "shop/cart.py", line)


def test_memory_store_is_writable_and_holds_tenants() -> None:
    """MemoryStore has both protocols; FileStore is writable only in name."""
    assert isinstance(MemoryStore(), WritableStore)
    assert isinstance(MemoryStore(), TenantStores)


def test_create_replace_delete_change_the_config_in_place() -> None:
    """Create appends, replace keeps the position, delete returns what it removed."""
    store = MemoryStore([tp("a"), tp("b")])
    store.create(tp("c"))
    store.replace(tp("a", 9))
    state, removed = store.delete("b")
    assert [(item.id, item.line) for item in state.tracepoints] == [("a", 9), ("c", 1)]
    assert removed == tp("b")
    assert state.hash == config_hash(state.tracepoints)
    assert state.version == 3


def test_replace_of_an_unknown_id_creates_it() -> None:
    """PUT semantics: create or replace."""
    assert MemoryStore().replace(tp("new")).tracepoints == (tp("new"),)


def test_create_of_a_used_id_is_refused_and_changes_nothing() -> None:
    """A second create of one id raises TracePointExists."""
    store = MemoryStore([tp("a")])
    with pytest.raises(TracePointExists, match="'a' exists already"):
        store.create(tp("a", 5))
    assert store.tracepoints == (tp("a"),)
    assert store.version == 0


def test_delete_of_an_unknown_id_is_refused() -> None:
    """UnknownTracePoint is a LookupError too, with a plain message."""
    store = MemoryStore()
    with pytest.raises(UnknownTracePoint) as caught:
        store.delete("ghost")
    assert isinstance(caught.value, LookupError)
    assert str(caught.value) == "no tracepoint has the id 'ghost'"


def test_a_stale_expected_hash_applies_nothing() -> None:
    """Compare-and-set: the write that expected an old hash raises StaleConfig."""
    store = MemoryStore([tp("a")])
    old = store.hash
    store.replace(tp("a", 2), expected_hash=old)
    for write in (
        lambda: store.create(tp("b"), expected_hash=old),
        lambda: store.replace(tp("a", 3), expected_hash=old),
        lambda: store.delete("a", expected_hash=old),
    ):
        with pytest.raises(StaleConfig) as caught:
            write()
        assert caught.value.current == store.hash
    assert store.tracepoints == (tp("a", 2),)


def test_racing_writers_with_compare_and_set_lose_nothing() -> None:
    """Eight threads each retry on StaleConfig; every write they were told applied is there."""
    store = MemoryStore()

    def writer(n: int) -> None:
        for k in range(25):
            while True:
                try:
                    store.create(tp(f"w{n}-{k}"), expected_hash=store.hash)
                    break
                except StaleConfig:
                    continue

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.tracepoints) == 200
    assert store.version == 200


def test_a_write_that_changes_nothing_is_no_new_version() -> None:
    """Replacing a tracepoint with its equal keeps the version and tells no listener."""
    store = MemoryStore()
    seen: list[StoreState] = []
    store.subscribe(seen.append)
    store.create(tp("a"))
    assert store.replace(tp("a")).version == 1
    assert [state.version for state in seen] == [1]


def test_tenants_are_separate_configs() -> None:
    """tenant(name) is its own store, the same object on every call; "" is the store itself."""
    store = MemoryStore([tp("root")])
    acme = store.tenant("acme")
    acme.create(tp("only-acme"))
    assert store.tenant("acme") is acme
    assert store.tenant("") is store
    assert store.tracepoints == (tp("root"),)
    assert store.tenant("globex").tracepoints == ()


def test_an_invalid_tenant_id_is_refused() -> None:
    """The tenant rule is checked: a slash is no tenant id."""
    with pytest.raises(ValueError, match="invalid tenant id"):
        MemoryStore().tenant("a/b")


def test_file_store_refuses_writes_naming_the_file(tmp_path: Path) -> None:
    """The file is the one source of truth: every write says to edit it."""
    path = tmp_path / "tracepoints.yaml"
    path.write_text(dump_tracepoints([tp("a")]))
    with FileStore(path, watch=False) as store:
        for write in (
            lambda: store.create(tp("b")),
            lambda: store.replace(tp("a", 2)),
            lambda: store.delete("a"),
        ):
            with pytest.raises(ReadOnlyStore, match="edit the file") as caught:
                write()
            assert str(path) in str(caught.value)
        assert store.tracepoints == (tp("a"),)
