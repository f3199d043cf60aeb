"""``HubServer`` at its edges: hostile bodies, limits, bounded caches and logs, bind failures."""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from deepproto.proto.common.v1 import common_pb2
from deepproto.proto.poll.v1 import poll_pb2
from deepproto.proto.resource.v1 import resource_pb2

from confighub import TracePoint
from confighub.exceptions import ServeFailed
from confighub.server import HubServer, MemoryStore
from tests.support.polling import resource
from tests.support.tls import self_signed_pair

CART = TracePoint("cart", "shop/cart.py", 12)
POLL = "/deepproto.proto.poll.v1.PollConfig/poll"
SEND = "/deepproto.proto.tracepoint.v1.SnapshotService/send"
TOKEN = "t0ken"
AUTHORIZED = (("authorization", f"Bearer {TOKEN}"),)
SERVER_LOGGER = "confighub.server"


def raw(channel: grpc.Channel, method: str = POLL) -> Any:
    """A call of ``method`` that sends its bytes as they are and returns the answer's bytes."""
    return channel.unary_unary(method)


def status(call: Any, body: bytes, metadata: Any = ()) -> tuple[grpc.StatusCode, str]:
    """The status code and details ``call`` ends with for ``body``."""
    try:
        call(body, metadata=metadata, timeout=10)
    except grpc.RpcError as err:
        return err.code(), err.details() or ""
    return grpc.StatusCode.OK, ""


def request_bytes(**attributes: str) -> bytes:
    """A serialized poll of a client with these string attributes."""
    request = poll_pb2.PollRequest(resource=resource(**attributes))
    body: bytes = request.SerializeToString()
    return body


def attribute(key: str, value: str) -> Any:
    """One resource attribute with a string value."""
    return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(string_value=value))


@pytest.fixture
def hub_server() -> Iterator[HubServer]:
    with HubServer(MemoryStore([CART])) as server:
        yield server


@pytest.fixture
def channel(hub_server: HubServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(hub_server.target) as the_channel:
        yield the_channel


@pytest.fixture
def guarded() -> Iterator[grpc.Channel]:
    """A channel to a server that wants the bearer token ``t0ken``."""
    with (
        HubServer(MemoryStore([CART]), token=TOKEN) as server,
        grpc.insecure_channel(server.target) as the_channel,
    ):
        yield the_channel


def a_poll_of_265000_attributes() -> bytes:
    """Like the poll that took a second of the loop to parse: 265,000 attributes, 3.7 MB."""
    many = resource_pb2.Resource(attributes=[attribute("k", "v" * 5)] * 265_000)
    body: bytes = poll_pb2.PollRequest(resource=many).SerializeToString()
    return body


def test_a_taken_port_is_refused_with_the_operating_systems_reason(
    hub_server: HubServer,
) -> None:
    """Binding a port in use fails with ServeFailed saying 'Address already in use'."""
    in_use = os.strerror(errno.EADDRINUSE)
    with pytest.raises(ServeFailed, match=in_use) as caught:
        HubServer(MemoryStore(), port=hub_server.port).start()
    assert "GRPC_VERBOSITY" not in str(caught.value)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with pytest.raises(ServeFailed, match=in_use):
            HubServer(MemoryStore(), port=listener.getsockname()[1]).start()


def test_a_key_of_another_certificate_is_refused_at_construction(tmp_path: Path) -> None:
    """A cert/key mismatch raises ValueError naming the key and certificate, not 'cannot bind'."""
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    cert, _ = self_signed_pair(tmp_path / "one")
    _, other_key = self_signed_pair(tmp_path / "two")
    with pytest.raises(ValueError, match="tls_key") as caught:
        HubServer(MemoryStore(), tls_cert=cert, tls_key=other_key)
    assert "certificate" in str(caught.value)
    assert "key" in str(caught.value)
