"""A replica with no config at all (Redis never seeded, or emptied before it read one)."""

from __future__ import annotations

import grpc
import pytest
from deepproto.proto.poll.v1 import poll_pb2_grpc

from confighub import TracePoint
from confighub.server import HubServer
from confighub.stores import RedisStore
from tests.support.polling import ids, poll
from tests.support.redis_server import RedisServer
from tests.support.redis_stores import running, same_config
from tests.support.waiting import wait_until

CHECKOUT = TracePoint("checkout", "shop/checkout.py", 42)
CART = TracePoint("cart", "shop/cart.py", 17)


def test_agents_of_a_replica_with_no_config_are_refused_not_emptied(
    redis_server: RedisServer,
) -> None:
    """UNAVAILABLE until Redis holds a config: an empty answer would drop the agent's own."""
    with (
        HubServer(RedisStore(redis_server.url)) as server,
        grpc.insecure_channel(server.target) as channel,
    ):
        stub = poll_pb2_grpc.PollConfigStub(channel)
        assert not server.store.holds_config  # type: ignore[attr-defined]
        with pytest.raises(grpc.RpcError) as refused:
            poll(stub, "the-hash-the-agent-holds")
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        with running(redis_server.url) as operator:
            operator.set([CHECKOUT])
            same_config(operator, server.store)  # type: ignore[arg-type]
        assert ids(poll(stub)) == {"checkout"}


def test_a_replica_that_had_a_config_serves_it_through_an_emptied_redis(
    redis_server: RedisServer,
) -> None:
    """Emptied after it read one, a replica still holds a config: its last good one."""
    with (
        running(redis_server.url) as store,
        HubServer(store) as server,
        grpc.insecure_channel(server.target) as channel,
    ):
        store.set([CHECKOUT, CART])  # no seed: one would be written again at once
        stub = poll_pb2_grpc.PollConfigStub(channel)
        assert ids(poll(stub)) == {"checkout", "cart"}
        with redis_server.client() as client:
            client.flushall()
        wait_until(lambda: not store.initialized, "the replica to see Redis emptied")
        assert store.holds_config
        assert ids(poll(stub)) == {"checkout", "cart"}
