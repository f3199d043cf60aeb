"""Any sequence of writes leaves a RedisStore, and each replica of it, where a MemoryStore ends.

One redis-server serves the whole module; each example has a namespace of its own, so
what one example wrote cannot reach the next. Writes go through either of two stores at
random, with the hash the model says is current (as a client that read it from another
server would) or a stale one; a third store, started after them, reads it all at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from confighub.exceptions import StoreError
from confighub.model import TracePoint, config_hash
from confighub.stores import MemoryStore, RedisStore
from tests.support.redis_server import RedisServer
from tests.support.redis_stores import config_of, running, same_config
from tests.support.strategies import tracepoints

_IDS = st.sampled_from(["a", "b", "c", "d"])
_TENANTS = st.sampled_from(["", "", "acme"])
# A first config for each tenant: a few ids in use from the start, so that a replace or
# a delete finds one before the last.
_FIRST = st.lists(tracepoints(ids=_IDS), max_size=3, unique_by=lambda tp: tp.id)
# One write: (operation, tenant, tracepoint, id to delete, stale hash?, through the replica?).
_WRITES = st.tuples(
    st.sampled_from(["create", "replace", "delete", "set"]),
    _TENANTS,
    tracepoints(ids=_IDS),
    _IDS,
    st.sampled_from([False, False, False, True]),
    st.booleans(),
)
_Write = tuple[str, str, TracePoint, str, bool, bool]
_namespaces = itertools.count()


@pytest.fixture(scope="module")
def shared_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the module's examples, which each take a namespace of their own."""
    with RedisServer(tmp_path_factory.mktemp("redis")) as running_server:
        yield running_server


def _apply(target: RedisStore | MemoryStore, write: _Write, model: MemoryStore) -> object:
    """Run ``write`` on ``target``: what it leaves (hash and tracepoints), or its error's type.

    The hash expected and the config a set writes come from ``model`` as it is before the
    write, as a client would read them; a stale write expects a hash it is not.
    """
    operation, tenant, tp, tp_id, stale, _ = write
    store, current = target.tenant(tenant), model.tenant(tenant)
    expected = config_hash([tp]) if stale else current.hash
    others = [old for old in current.tracepoints if old.id != tp.id]
    try:
        if operation == "create":
            state = store.create(tp, expected_hash=expected)
        elif operation == "replace":
            state = store.replace(tp, expected_hash=expected)
        elif operation == "delete":
            state, removed = store.delete(tp_id, expected_hash=expected)
            return state.hash, state.tracepoints, removed
        else:
            state = store.set([tp, *others])
    except StoreError as err:
        return type(err)
    return state.hash, state.tracepoints


@settings(max_examples=30)
@given(_FIRST, _FIRST, st.lists(_WRITES, max_size=12))
def test_random_writes_agree_with_a_memory_store_on_every_replica(
    shared_redis: RedisServer,
    first: list[TracePoint],
    first_acme: list[TracePoint],
    writes: list[_Write],
) -> None:
    """Both writers and a late replica end on the model's tracepoints, in its order and hash."""
    namespace = f"example-{next(_namespaces)}"
    model = MemoryStore()
    with (
        running(shared_redis.url, namespace=namespace) as store,
        running(shared_redis.url, namespace=namespace) as replica,
    ):
        for tenant, config in (("", first), ("acme", first_acme)):
            assert store.tenant(tenant).set(config).hash == model.tenant(tenant).set(config).hash
        for write in writes:
            writer = replica if write[5] else store
            assert _apply(writer, write, model) == _apply(model, write, model)
        with running(shared_redis.url, namespace=namespace) as late:
            for tenant in ("", "acme"):
                expected = model.tenant(tenant)
                stores = [s.tenant(tenant) for s in (store, replica, late)]
                same_config(*stores)
                assert stores[0].tracepoints == expected.tracepoints
                assert config_of(stores[0]) == (
                    expected.hash,
                    [tp.digest for tp in expected.tracepoints],
                )
