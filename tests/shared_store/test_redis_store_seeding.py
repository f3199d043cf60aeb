"""An uninitialized namespace is not an empty config: refused, set whole, or seeded once.

A Redis that never held a config (or lost it) has no ``{ns}:initialized`` mark. A store
there says so, refuses single writes (they would leave a subset of a config) and takes
a whole one (``set``), or writes its ``seed``; several stores seeding at once leave one
seed, whole.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from concurrent import futures

import pytest
import redis

from confighub.exceptions import StaleConfig, StoreUnavailable
from confighub.model import TracePoint, config_hash
from confighub.stores import RedisStore
from confighub.stores._redis_scripts import SET, WRITE
from tests.support.redis_server import RedisServer
from tests.support.redis_stores import config_of, keys, running, same_config
from tests.support.threads import in_thread
from tests.support.waiting import wait_until

A = TracePoint("a", "app.py", 1)
B = TracePoint("b", "app.py", 2)


def seed(n: int) -> list[TracePoint]:
    """Seed ``n``: ``n + 1`` tracepoints with ids of its own, so a mix of two shows."""
    return [TracePoint(f"seed{n}-{k}", "seeded.py", k) for k in range(n + 1)]


def _start_together(go: threading.Barrier, store: RedisStore) -> None:
    go.wait()
    store.start()


@pytest.fixture
def fresh(redis_server: RedisServer) -> Iterator[RedisStore]:
    """A started store on a namespace nothing initialized."""
    with running(redis_server.url) as started:
        yield started


def test_a_fresh_namespace_is_uninitialized_and_says_how_to_seed_it(fresh: RedisStore) -> None:
    """Reachable, but not initialized: the problem names the namespace and the way out."""
    assert fresh.available
    assert not fresh.initialized
    assert fresh.problem is not None
    assert "namespace 'confighub'" in fresh.problem
    assert "confighub tp apply" in fresh.problem
    assert "--seed" in fresh.problem
    assert fresh.state.tracepoints == ()


def test_single_writes_are_refused_until_a_whole_config_is_set(
    redis_server: RedisServer, fresh: RedisStore
) -> None:
    """Create, replace and delete are StoreUnavailable, and write nothing into Redis."""
    for write in (
        lambda: fresh.create(A),
        lambda: fresh.replace(A),
        lambda: fresh.delete("a"),
        lambda: fresh.tenant("acme").create(A),
    ):
        with pytest.raises(StoreUnavailable, match="not initialized") as caught:
            write()
        assert "tp apply" in str(caught.value)
    with redis_server.client() as client:
        assert client.keys("*") == []
    assert fresh.state.tracepoints == ()


def test_set_initializes_the_namespace_for_every_store(
    redis_server: RedisServer, fresh: RedisStore
) -> None:
    """A whole config written marks the namespace; then single writes work, on every store."""
    with running(redis_server.url) as other:
        state = fresh.set([A])
        assert (fresh.initialized, fresh.problem) == (True, None)
        assert state.tracepoints == (A,)
        same_config(fresh, other)
        assert other.initialized
        other.create(B)
        same_config(other, fresh)
        assert fresh.tracepoints == (A, B)
    with redis_server.client() as client:
        assert client.exists(keys("confighub")["initialized"])


def test_a_store_with_a_seed_seeds_an_uninitialized_namespace_on_start(
    redis_server: RedisServer,
) -> None:
    """``seed=`` is written at start when nothing is there, and another store serves it."""
    with (
        running(redis_server.url, seed=seed(2)) as seeded,
        running(redis_server.url) as other,
    ):
        assert seeded.initialized
        assert seeded.tracepoints == tuple(seed(2))
        assert other.tracepoints == tuple(seed(2))
        assert other.initialized


def test_a_seed_is_not_written_over_a_config_that_is_there(
    redis_server: RedisServer, fresh: RedisStore
) -> None:
    """A namespace initialized already keeps its config: the seed is for an empty one."""
    fresh.set([A, B])
    with running(redis_server.url, seed=seed(3)) as seeded:
        assert seeded.tracepoints == (A, B)
    assert fresh.tracepoints == (A, B)


def test_stores_seeding_at_once_leave_one_whole_seed(redis_server: RedisServer) -> None:
    """Six stores with six seeds start together: all serve one of them, whole, the same one."""
    count = 6
    go = threading.Barrier(count)
    stores: list[RedisStore] = [
        RedisStore(redis_server.url, seed=seed(n), timeout=5) for n in range(count)
    ]
    errors: list[BaseException] = []

    def start(store: RedisStore) -> None:
        go.wait()
        try:
            store.start()
        except BaseException as err:
            errors.append(err)

    threads = [in_thread(functools.partial(start, store)) for store in stores]
    try:
        for thread in threads:
            thread.join(30)
        assert errors == []
        same_config(*stores)
        served = stores[0].tracepoints
        assert served in [tuple(seed(n)) for n in range(count)]
        assert all(store.initialized for store in stores)
        assert all(config_of(store) == config_of(stores[0]) for store in stores)
        assert stores[0].hash == config_hash(served)
    finally:
        for store in stores:
            store.close()


def test_seeding_at_once_repeated_on_fresh_namespaces(redis_server: RedisServer) -> None:
    """The race above, twenty times over on new namespaces: never a mix, never a subset."""
    for round_ in range(20):
        namespace = f"race-{round_}"
        go = threading.Barrier(3)
        stores = [RedisStore(redis_server.url, namespace=namespace, seed=seed(n)) for n in range(3)]
        threads = [in_thread(functools.partial(_start_together, go, s)) for s in stores]
        try:
            for thread in threads:
                thread.join(30)
            same_config(*stores)
            assert stores[0].tracepoints in [tuple(seed(n)) for n in range(3)]
        finally:
            for store in stores:
                store.close()


def _held_scripts(client: redis.Redis) -> int:
    """How many clients Redis holds back with a script, under CLIENT PAUSE."""
    return sum(1 for c in client.client_list() if c["cmd"] == "evalsha" and "b" in c["flags"])


def test_a_write_expecting_a_hash_from_before_redis_was_emptied_is_stale(
    redis_server: RedisServer,
) -> None:
    """Revisions start again at each seeding: a compare-and-set names the epoch too.

    CLIENT PAUSE holds both writes in Redis so that they run in the order they came:
    one store's whole config, then the other's write expecting the hash it served
    before Redis was emptied, when its revision was the one the new config has now.
    """
    with running(redis_server.url) as kept, running(redis_server.url) as seeder:
        lost = kept.set([A]).hash
        same_config(kept, seeder)
        redis_server.restart(empty=True)
        wait_until(lambda: not kept.initialized, "the store to see Redis empty")
        with redis_server.client() as client, futures.ThreadPoolExecutor(2) as pool:
            client.script_load(SET)
            client.script_load(WRITE)  # an emptied Redis has no script cached either
            client.execute_command("CLIENT", "PAUSE", "20000", "WRITE")
            try:
                seeding = pool.submit(seeder.set, [B])
                wait_until(lambda: _held_scripts(client) == 1, "the set to wait in Redis")
                stale = pool.submit(
                    kept.replace, TracePoint("a", "moved.py", 9), expected_hash=lost
                )
                wait_until(lambda: _held_scripts(client) == 2, "the write to wait in Redis")
            finally:
                client.execute_command("CLIENT", "UNPAUSE")
            with pytest.raises(StaleConfig):
                stale.result(10)
            seeding.result(10)
        same_config(seeder, kept)
        assert kept.tracepoints == (B,)
