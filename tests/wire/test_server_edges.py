"""``HubServer`` at its edges: hostile bodies, limits, credentials, bind failures, large views."""

from __future__ import annotations

import errno
import logging
import os
import socket
import threading
from collections.abc import Iterator, Sequence
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from deepproto.proto.poll.v1 import poll_pb2, poll_pb2_grpc
from deepproto.proto.resource.v1 import resource_pb2
from deepproto.proto.tracepoint.v1 import tracepoint_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from confighub import TracePoint, config_hash
from confighub.exceptions import ServeFailed
from confighub.server import HubServer, MemoryStore, _bodies, _views
from tests.support.polling import poll
from tests.support.raw_calls import POLL, SEND, attribute, raw, request_bytes, status
from tests.support.tls import self_signed_pair

CART = TracePoint("cart", "shop/cart.py", 12)
TOKEN = "t0ken"
AUTHORIZED = (("authorization", f"Bearer {TOKEN}"),)
SERVER_LOGGER = "confighub.server"


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


def test_a_poll_over_max_poll_size_is_refused_before_it_is_parsed(
    hub_server: HubServer, channel: grpc.Channel
) -> None:
    """A 3.7 MB poll, even a malformed one, ends INVALID_ARGUMENT naming the size limit.

    Snapshots keep max_message_size: a 200 KB one is taken.
    """
    for body in (a_poll_of_265000_attributes(), b"\xff" * 70_000):
        code, details = status(raw(channel), body)
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert "max_poll_size" in details
        assert "65536 bytes" in details
        assert len(details) < 200
    snapshot = tracepoint_pb2.Snapshot(tracepoint=tracepoint_pb2.TracePointConfig(ID="x" * 200_000))
    assert status(raw(channel, SEND), snapshot.SerializeToString())[0] == grpc.StatusCode.OK
    assert hub_server.stats().snapshots == 1


def test_max_poll_size_is_a_constructor_argument() -> None:
    """A server built with a smaller max_poll_size refuses a poll over it, serves one under."""
    with (
        HubServer(MemoryStore([CART]), max_poll_size=100) as server,
        grpc.insecure_channel(server.target) as channel,
    ):
        code, details = status(raw(channel), request_bytes(name="x" * 200))
        assert (code, "of 100 bytes" in details) == (grpc.StatusCode.INVALID_ARGUMENT, True)
        assert status(raw(channel), request_bytes(name="shop"))[0] == grpc.StatusCode.OK


@pytest.mark.parametrize(
    ("attributes", "limit"),
    [
        ([attribute(f"k{n}", "v") for n in range(129)], "limit of 128"),
        ([attribute("k" * 2000, "v")], "limit of 1024 bytes per key"),
        ([attribute("service.name", "v" * 2000)], "limit of 1024 bytes per value"),
    ],
    ids=["129 attributes", "a 2,000-byte key", "a 2,000-byte value"],
)
def test_a_poll_with_too_many_or_too_big_attributes_is_refused(
    channel: grpc.Channel, attributes: list[Any], limit: str
) -> None:
    """Over 128 attributes, or a key or value over 1 KiB: INVALID_ARGUMENT, bounded, naming it."""
    body = poll_pb2.PollRequest(
        resource=resource_pb2.Resource(attributes=attributes)
    ).SerializeToString()
    code, details = status(raw(channel), body)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert limit in details
    assert len(details) < 300


def test_malformed_bodies_are_invalid_arguments_and_log_no_traceback(
    channel: grpc.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    """100 non-protobuf polls and snapshots end INVALID_ARGUMENT; the log stays a few lines."""
    with caplog.at_level(logging.INFO):
        for method in (POLL, SEND):
            for _ in range(50):
                code, details = status(raw(channel, method), b"\xff\xff")
                assert code == grpc.StatusCode.INVALID_ARGUMENT
                assert "is not a deepproto" in details
                assert "DecodeError" not in details
    assert "Traceback" not in caplog.text
    assert len(caplog.text) < 2_000


def test_a_malformed_body_without_credentials_is_unauthenticated(guarded: grpc.Channel) -> None:
    """With auth on, credentials are checked first: garbage without them is UNAUTHENTICATED."""
    for method in (POLL, SEND):
        assert status(raw(guarded, method), b"\xff\xff")[0] == grpc.StatusCode.UNAUTHENTICATED
        code, _ = status(raw(guarded, method), b"\xff\xff", AUTHORIZED)
        assert code == grpc.StatusCode.INVALID_ARGUMENT


def test_a_credential_sent_without_a_scheme_is_echoed_nowhere(
    guarded: grpc.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    """A bare secret in the authorization header is in no status detail and no log record."""
    secret = "s3cret-0123456789abcdef"
    with caplog.at_level(logging.DEBUG):
        for header in (secret, f"{secret} more", f"Bearer{secret}"):
            code, details = status(raw(guarded), b"", (("authorization", header),))
            assert code == grpc.StatusCode.UNAUTHENTICATED
            assert "unsupported authorization scheme" in details
            assert "s3cret" not in details
    assert "s3cret" not in caplog.text
    assert not any("s3cret" in record.getMessage() for record in caplog.records)


def test_more_than_one_authorization_header_is_refused(guarded: grpc.Channel) -> None:
    """Two authorization headers, even a right one last, end UNAUTHENTICATED saying so."""
    for first in ("Bearer wrong", f"Bearer {TOKEN}"):
        metadata = (("authorization", first), ("authorization", f"Bearer {TOKEN}"))
        code, details = status(raw(guarded), b"", metadata)
        assert code == grpc.StatusCode.UNAUTHENTICATED
        assert "more than one 'authorization' metadata" in details


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


def test_a_large_view_is_serialized_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """While a big UPDATE body is being serialized, another client's poll is answered."""
    config = [TracePoint(f"tp{n}", "big.py", n + 1) for n in range(_views.OFFLOAD_AT)]
    release = threading.Event()
    threads: list[str] = []
    serialize = _bodies._frame_all

    def blocking(tracepoints: Sequence[TracePoint]) -> list[bytes]:
        threads.append(threading.current_thread().name)
        release.wait(30)
        return serialize(tracepoints)

    monkeypatch.setattr(_bodies, "_frame_all", blocking)
    with (
        HubServer(MemoryStore(config)) as server,
        grpc.insecure_channel(server.target) as channel,
        futures.ThreadPoolExecutor(max_workers=2) as pool,
    ):
        stub = poll_pb2_grpc.PollConfigStub(channel)
        updates = [pool.submit(poll, stub) for _ in range(2)]
        answer = poll(stub, config_hash(config), timeout=10)
        assert answer.response_type == poll_pb2.NO_CHANGE
        release.set()
        assert {len(update.result(timeout=30).response) for update in updates} == {len(config)}
        assert server.stats().serializations == 2  # one NO_CHANGE body, one UPDATE body
    assert len(threads) == 1
    assert threads[0] != "confighub-server"


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[tuple[HubServer, grpc.Channel]]:
    """One guarded server for every example of the fuzz test."""
    with (
        HubServer(MemoryStore([CART]), token=TOKEN) as server,
        grpc.insecure_channel(server.target) as the_channel,
    ):
        yield server, the_channel


_GOOD = request_bytes(**{"service.name": "shop"})


@settings(max_examples=40)
@given(
    body=st.binary(max_size=200) | st.binary(max_size=40).map(lambda tail: _GOOD + tail),
    authorized=st.booleans(),
)
def test_random_poll_bodies_get_ok_invalid_argument_or_unauthenticated(
    fuzzed: tuple[HubServer, grpc.Channel], body: bytes, authorized: bool
) -> None:
    """Random bytes as a poll never end UNKNOWN or INTERNAL; a good client is served after."""
    _, channel = fuzzed
    code, _ = status(raw(channel), body, AUTHORIZED if authorized else ())
    allowed = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT}
    assert code in (allowed if authorized else {grpc.StatusCode.UNAUTHENTICATED})
    answer = poll(poll_pb2_grpc.PollConfigStub(channel), metadata=AUTHORIZED)
    assert answer.response_type == poll_pb2.UPDATE
