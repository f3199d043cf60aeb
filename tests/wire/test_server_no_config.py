"""A store that holds no config yet: its agents are refused UNAVAILABLE, never served empty."""

from __future__ import annotations

import grpc
import pytest
from deepproto.proto.poll.v1 import poll_pb2_grpc

from confighub import ConfigHub, TracePoint
from confighub.server import HubServer
from confighub.sources import GrpcPollSource
from tests.support.polling import ids, poll
from tests.support.stores import ConfiglessStore

CHECKOUT = TracePoint("checkout", "shop/checkout.py", 42)


def test_a_poll_of_a_store_without_config_is_unavailable_until_it_holds_one() -> None:
    """An empty answer would make an agent drop its tracepoints: the call fails instead."""
    store = ConfiglessStore([])
    with HubServer(store) as server, grpc.insecure_channel(server.target) as channel:
        stub = poll_pb2_grpc.PollConfigStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            poll(stub, "an-agent-s-hash")
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "no config to serve yet" in (refused.value.details() or "")
        store.set([CHECKOUT])
        store.holding = True
        assert ids(poll(stub)) == {"checkout"}


def test_a_client_keeps_its_config_while_the_server_has_none() -> None:
    """GrpcPollSource takes UNAVAILABLE as a passing failure: it keeps what it applied."""
    store = ConfiglessStore([CHECKOUT])
    store.holding = True
    with HubServer(store) as server, ConfigHub() as hub:
        source = GrpcPollSource(server.target, hub)
        source.poll_once()
        assert [tp.id for tp in hub.current_config] == ["checkout"]
        store.holding = False
        store.set([])
        with pytest.raises(Exception, match="no config to serve yet"):
            source.poll_once()
        assert [tp.id for tp in hub.current_config] == ["checkout"]
        store.holding = True
        source.poll_once()
        assert hub.current_config == ()
        source.stop()
