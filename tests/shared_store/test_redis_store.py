"""RedisStore keeps MemoryStore's semantics on a real redis-server, and two stores agree.

Each test has a redis-server of its own (the ``redis_server`` fixture). A store here is
started on a thread of its own and initialized with an empty config, as a server's
first ``confighub tp apply`` would; what an uninitialized namespace does is in
``test_redis_store_seeding``, faults in ``test_redis_store_faults``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterator

import pytest

from confighub.exceptions import (
    InvalidTracePoint,
    StaleConfig,
    StoreError,
    StoreUnavailable,
    TracePointExists,
    UnknownTracePoint,
)
from confighub.model import TracePoint, config_hash
from confighub.stores import MemoryStore, RedisStore, StoreState, TenantStores, WritableStore
from tests.support.redis_server import RedisServer
from tests.support.redis_stores import config_of, running, same_config
from tests.support.threads import in_thread

A = TracePoint("a", "app.py", 1)
B = TracePoint("b", "app.py", 2, {"fire_count": "3"})
C = TracePoint("c", "lib.py", 3, targeting={"env": ["prod", 1, 1.5]})


@pytest.fixture
def store(redis_server: RedisServer) -> Iterator[RedisStore]:
    """A started RedisStore on the test's Redis, its namespace initialized empty."""
    with running(redis_server.url) as started:
        started.set([])
        yield started


@pytest.fixture
def other(redis_server: RedisServer, store: RedisStore) -> Iterator[RedisStore]:
    """A second started RedisStore on the same namespace: another server's replica."""
    with running(redis_server.url) as started:
        yield started


def test_it_is_a_writable_store_of_tenants(store: RedisStore) -> None:
    """RedisStore has the WritableStore and TenantStores protocols and starts empty at 0."""
    assert isinstance(store, WritableStore)
    assert isinstance(store, TenantStores)
    assert store.state == StoreState(0, (), config_hash(()))
    assert (store.available, store.initialized, store.problem) == (True, True, None)


def test_writes_behave_as_a_memory_stores(store: RedisStore) -> None:
    """Create appends, replace keeps the position, delete returns the removed one; set too."""
    memory = MemoryStore()
    for target in (store, memory):
        target.create(A)
        target.create(B)
        target.create(C)
        target.replace(TracePoint("a", "app.py", 10))
        target.replace(TracePoint("d", "new.py", 4))
        _, removed = target.delete("b")
        assert removed == B
        target.create(B)
    assert store.state == memory.state
    assert [tp.id for tp in store.tracepoints] == ["a", "c", "d", "b"]
    assert store.version == 7
    assert store.set([C, A]) == memory.set([C, A])
    assert store.replace(B) == memory.replace(B)
    assert [tp.id for tp in store.tracepoints] == ["c", "a", "b"]


def test_create_refuses_an_id_in_use_and_changes_nothing(store: RedisStore) -> None:
    """A create of a used id raises TracePointExists; the state is the one before."""
    before = store.create(A)
    with pytest.raises(TracePointExists, match="'a' exists already"):
        store.create(TracePoint("a", "other.py", 9))
    assert store.state is before


def test_delete_of_an_unknown_id_raises_and_changes_nothing(store: RedisStore) -> None:
    """A delete of an id no tracepoint has raises UnknownTracePoint, a LookupError."""
    before = store.create(A)
    with pytest.raises(UnknownTracePoint) as caught:
        store.delete("nope")
    assert isinstance(caught.value, LookupError)
    assert store.state is before


def test_a_write_that_keeps_the_hash_is_no_new_version(store: RedisStore) -> None:
    """Replacing a tracepoint with an equal one keeps the state object and tells no listener."""
    heard: list[StoreState] = []
    store.subscribe(heard.append)
    before = store.create(A)
    assert store.replace(TracePoint("a", "app.py", 1)) is before
    assert store.set([TracePoint("a", "app.py", 1)]) is before
    assert [state.version for state in heard] == [1]


def test_a_stale_expected_hash_raises_and_changes_nothing(store: RedisStore) -> None:
    """Compare-and-set: the current hash applies, an older one raises StaleConfig for each write."""
    first = store.create(A)
    second = store.create(B, expected_hash=first.hash)
    stale = first.hash
    for write in (
        lambda: store.create(C, expected_hash=stale),
        lambda: store.replace(C, expected_hash=stale),
        lambda: store.delete("a", expected_hash=stale),
        lambda: store.set([C], expected_hash=stale),
    ):
        with pytest.raises(StaleConfig) as caught:
            write()
        assert caught.value.current == second.hash
    assert store.state is second
    assert store.delete("a", expected_hash=second.hash)[0].tracepoints == (B,)


def test_set_refuses_a_repeated_id_or_what_is_no_tracepoint(store: RedisStore) -> None:
    """A set with an id used twice is InvalidTracePoint, a non-TracePoint TypeError: no change."""
    before = store.set([A, B])
    with pytest.raises(InvalidTracePoint, match="used by two tracepoints"):
        store.set([A, A])
    with pytest.raises(TypeError, match="TracePoint objects"):
        store.set(["a"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="TracePoint objects"):
        store.create("a")  # type: ignore[arg-type]
    assert store.state is before


def test_set_keeps_the_objects_of_unchanged_tracepoints(store: RedisStore) -> None:
    """As MemoryStore's: consecutive configs share each tracepoint that did not change."""
    store.set([A, B, C])
    served_b, served_c = store.tracepoints[1:]
    store.set([B, C])
    assert store.tracepoints[0] is served_b
    assert store.tracepoints[1] is served_c


def test_listeners_hear_each_write_that_changed_the_config(store: RedisStore) -> None:
    """A subscriber gets the state of each write that changed the config, once, in order."""
    heard: list[StoreState] = []
    store.subscribe(heard.append)
    first = store.create(A)
    with pytest.raises(StoreError):
        store.create(A)
    store.replace(A)
    second, _ = store.delete("a")
    assert heard == [first, second]


def test_tenants_are_separate_configs(store: RedisStore, other: RedisStore) -> None:
    """Each tenant has its own config, the same object on each call, and replicas agree."""
    acme = store.tenant("acme")
    assert store.tenant("acme") is acme
    assert store.tenant("") is store
    store.create(A)
    acme.create(B)
    acme.create(A)
    assert store.tracepoints == (A,)
    assert acme.tracepoints == (B, A)
    assert store.tenant("globex").tracepoints == ()
    assert "tenant='acme'" in repr(acme)
    same_config(acme, other.tenant("acme"))
    same_config(store, other)
    assert other.tenant("acme").tracepoints == (B, A)


@pytest.mark.parametrize("name", ["a/b", "..", "has space", "x" * 300])
def test_an_invalid_tenant_name_is_refused(store: RedisStore, name: str) -> None:
    """The tenant rule is checked: no key is made for a name that is no tenant id."""
    with pytest.raises(ValueError, match="invalid tenant id"):
        store.tenant(name)


def test_a_write_from_the_stores_own_loop_is_refused(store: RedisStore) -> None:
    """A write waits for Redis, so one called on the store's loop would wait on itself."""
    loop = store._link.loop
    assert loop is not None

    async def write_on_the_loop() -> StoreState:
        return store.create(A)

    future = asyncio.run_coroutine_threadsafe(write_on_the_loop(), loop)
    with pytest.raises(RuntimeError, match="another thread"):
        future.result(10)
    assert store.tracepoints == ()


def test_a_closed_store_keeps_its_config_and_refuses_writes(store: RedisStore) -> None:
    """After close() the config stays readable; a write is StoreUnavailable saying why."""
    state = store.create(A)
    store.close()
    store.close()
    assert store.state is state
    assert not store.available
    with pytest.raises(StoreUnavailable, match="not started"):
        store.create(B)


def test_a_store_closed_straight_after_its_start_stops(redis_server: RedisServer) -> None:
    """close() right after start() returns: the follower's first read is cut short, every time."""
    for _ in range(20):
        store = RedisStore(redis_server.url).start()
        closing = in_thread(store.close)
        closing.join(10)
        assert not closing.is_alive(), "close() did not return"
        assert not store.available


def test_a_closed_store_started_again_catches_up(store: RedisStore, other: RedisStore) -> None:
    """start() after close() connects again and serves what was written meanwhile."""
    store.create(A)
    store.close()
    other.create(B)
    store.start()
    assert store.tracepoints == (A, B)
    assert store.create(C).tracepoints == (A, B, C)


@pytest.mark.parametrize(
    ("url", "options", "match"),
    [
        ("http://127.0.0.1:6379", {}, "starts with redis://"),
        ("redis://127.0.0.1:6379/0", {"log_length": 9}, "log_length must be >= 10"),
        ("redis://127.0.0.1:6379/0", {"timeout": 0}, "timeout must be > 0"),
    ],
)
def test_options_outside_their_range_are_refused(
    url: str, options: dict[str, float], match: str
) -> None:
    """A URL of another scheme, a log shorter than 10 changes or no timeout: ValueError."""
    with pytest.raises(ValueError, match=match):
        RedisStore(url, **options)  # type: ignore[arg-type]


def test_a_write_through_one_store_is_served_by_the_other(
    store: RedisStore, other: RedisStore
) -> None:
    """A replica follows: each write made through one store ends up served by the other."""
    store.create(A)
    same_config(store, other)
    other.replace(TracePoint("a", "moved.py", 5))
    other.create(B)
    same_config(other, store)
    assert [(tp.id, tp.path) for tp in store.tracepoints] == [("a", "moved.py"), ("b", "app.py")]


def test_compare_and_set_from_a_replica_with_the_hash_read_from_another(
    store: RedisStore, other: RedisStore
) -> None:
    """The hash one server gave may be newer than a replica's: it catches up, then compares."""
    for n in range(20):
        # Straight after the write, before ``other`` has surely read it back.
        state = store.create(TracePoint(f"tp{n}", "app.py", n))
        after = other.replace(TracePoint(f"tp{n}", "app.py", n + 100), expected_hash=state.hash)
        assert after.hash != state.hash
        assert other.tracepoints[-1].line == n + 100
    with pytest.raises(StaleConfig) as caught:
        other.create(C, expected_hash=state.hash)
    assert caught.value.current == other.hash
    same_config(other, store)
    assert len(store.tracepoints) == 20
    assert "c" not in [tp.id for tp in store.tracepoints]


def test_racing_writers_on_two_stores_with_compare_and_set_lose_nothing(
    store: RedisStore, other: RedisStore
) -> None:
    """Four threads on each of two replicas retry on StaleConfig: every write applied is there."""

    def writer(target: RedisStore, n: int) -> None:
        for k in range(10):
            while True:
                try:
                    target.create(TracePoint(f"w{n}-{k}", "app.py", k), expected_hash=target.hash)
                    break
                except StaleConfig:
                    continue

    threads = [in_thread(functools.partial(writer, (store, other)[n % 2], n)) for n in range(8)]
    for thread in threads:
        thread.join(60)
    same_config(store, other)
    assert len(store.tracepoints) == 80
    assert config_of(store) == config_of(other)
