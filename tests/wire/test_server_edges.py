"""``HubServer`` at its edges: hostile bodies, limits, bounded caches and logs, bind failures."""

from __future__ import annotations

import errno
import logging
import os
import re
import socket
import threading
from collections.abc import Iterator, Sequence
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from deepproto.proto.common.v1 import common_pb2
from deepproto.proto.poll.v1 import poll_pb2, poll_pb2_grpc
from deepproto.proto.resource.v1 import resource_pb2
from deepproto.proto.tracepoint.v1 import tracepoint_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from confighub import TracePoint, config_hash
from confighub.exceptions import ServeFailed
from confighub.server import HubServer, MemoryStore, StoreState, _bodies, _views
from confighub.server._audit import BURST, REMEMBERED, Audit
from confighub.server._views import DEFAULT_MAX_VIEWS, ViewCache
from tests.support.polling import poll, resource
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
        assert "more than one authorization header" in details


def _refusal_counts(records: list[logging.LogRecord]) -> tuple[list[str], int]:
    """The one-by-one refusal lines, and the calls that the summary lines count."""
    lines = [r.getMessage() for r in records if r.name == SERVER_LOGGER]
    single = [line for line in lines if line.startswith("refused a call")]
    counted = sum(int(m[1]) for line in lines if (m := re.match(r"refused (\d+) more", line)))
    return single, counted


def test_refused_calls_are_logged_once_per_peer_then_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """100 refusals from one host: one WARNING naming peer and reason, then a count of 99."""
    with caplog.at_level(logging.WARNING, logger=SERVER_LOGGER):
        with (
            HubServer(MemoryStore([CART]), token=TOKEN) as server,
            grpc.insecure_channel(server.target) as channel,
        ):
            for _ in range(100):
                code, _ = status(raw(channel), b"", (("authorization", "Bearer wrong"),))
                assert code == grpc.StatusCode.UNAUTHENTICATED
        single, counted = _refusal_counts(caplog.records)
    assert len(single) == 1
    assert re.fullmatch(
        r"refused a call from ipv4:127\.0\.0\.1:\d+: invalid bearer token.*", single[0]
    )
    assert counted == 99
    assert all(r.levelno == logging.WARNING for r in caplog.records if r.name == SERVER_LOGGER)
    assert "wrong" not in caplog.text


def test_a_flood_from_many_hosts_logs_a_burst_then_one_summary_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Refusals from 1,000 hosts: BURST lines and one count; the next interval starts afresh."""
    audit = Audit(clock=iter(range(0, 1000, 10)).__next__)
    with caplog.at_level(logging.WARNING, logger=SERVER_LOGGER):
        for interval in range(2):
            for n in range(1000):
                audit.refused(f"ipv4:10.{interval}.{n // 256}.{n % 256}:5000", "invalid token")
            audit.flush()
    single, counted = _refusal_counts(caplog.records)
    assert len(single) == 2 * BURST
    assert counted == 2 * (1000 - BURST)
    assert len(caplog.records) == 2 * (BURST + 1)
    assert "in the last 10 s" in caplog.records[-1].getMessage()


def test_only_the_latest_refused_hosts_are_remembered(caplog: pytest.LogCaptureFixture) -> None:
    """A host refused before 4,096 others is new again: its next refusal is a line of its own."""
    audit = Audit()
    with caplog.at_level(logging.WARNING, logger=SERVER_LOGGER):
        for n in range(REMEMBERED + 1):
            audit.refused(f"ipv6:[fd00::{n:x}]:5000", "missing token")
        audit.flush()
        caplog.clear()
        audit.refused("ipv6:[fd00::0]:5000", "missing token")
        audit.refused(f"ipv6:[fd00::{REMEMBERED:x}]:5000", "missing token")
    assert [r.getMessage() for r in caplog.records] == [
        "refused a call from ipv6:[fd00::0]:5000: missing token"
    ]


def test_a_new_agent_is_logged_at_info_once(
    hub_server: HubServer, channel: grpc.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    """The first poll of each resource from a host is an INFO line; repeated polls add none."""
    stub = poll_pb2_grpc.PollConfigStub(channel)
    with caplog.at_level(logging.INFO, logger=SERVER_LOGGER):
        for name in ("shop", "shop", "cart", "shop"):
            poll(stub, attributes={"service.name": name})
    lines = [r.getMessage() for r in caplog.records if r.name == SERVER_LOGGER]
    assert len(lines) == 2
    assert re.fullmatch(r"new agent polling from ipv4:127\.0\.0\.1:\d+, resource .*", lines[0])
    assert "{'service.name': 'shop'}" in lines[0]
    assert "{'service.name': 'cart'}" in lines[1]


BITS = [TracePoint(f"bit{n}", "t.py", n + 1, targeting={f"bit{n}": "1"}) for n in range(11)]


def bits(number: int) -> Any:
    """The resource of a client that gets the targeted tracepoints of ``number``'s set bits."""
    return resource(**{f"bit{n}": str(number >> n & 1) for n in range(len(BITS))})


def state(version: int, *tracepoints: TracePoint) -> StoreState:
    """A store state of ``tracepoints``."""
    return StoreState(version, tracepoints, config_hash(tracepoints))


def test_2000_distinct_resources_leave_at_most_the_cap_of_views() -> None:
    """Each client with another set of targeted tracepoints adds a view; 256 at most are kept."""
    cache = ViewCache(state(0, CART, *BITS))
    for number in range(2000):
        cache.view_for(bits(number))
    assert len(cache) == len(cache.views()) == DEFAULT_MAX_VIEWS == 256


def test_the_view_in_use_outlives_a_crowd_of_one_off_resources() -> None:
    """Eviction takes the least recently used view: one polled all along is never rebuilt."""
    cache = ViewCache(state(0, CART, *BITS), max_views=8)
    steady = cache.view_for(bits(0))
    for number in range(1, 100):
        cache.view_for(bits(number))
        assert cache.view_for(bits(0)) is steady
    assert len(cache) == 8


def test_no_view_of_an_old_version_remains_after_a_store_change() -> None:
    """A change of an untargeted tracepoint drops every view, and new polls get new ones."""
    cache = ViewCache(state(0, CART, *BITS))
    for number in range(50):
        cache.view_for(bits(number))
    cache.update(state(1, TracePoint("cart", "shop/cart.py", 13), *BITS))
    assert cache.views() == ()
    for number in range(50):
        cache.view_for(bits(number))
    assert {view.version for view in cache.views()} == {1}
    assert len(cache) == 50


def test_a_view_holding_a_changed_tracepoint_is_not_kept_for_reuse() -> None:
    """After a targeted change only views that may still be served stay, and are reused."""
    cache = ViewCache(state(0, CART, *BITS))
    kept, dropped = cache.view_for(bits(0b10)), cache.view_for(bits(0b01))
    moved = TracePoint("bit0", "t.py", 99, targeting={"bit0": "1"})
    cache.update(state(1, CART, moved, *BITS[1:]))
    assert cache.views() == (kept,)
    assert dropped not in cache.views()
    assert cache.view_for(bits(0b10)) is kept
    assert kept.version == 1


def test_many_distinct_resources_keep_at_most_max_views_cached() -> None:
    """max_views is a constructor argument: 40 kinds of client leave at most 16 views cached."""
    with (
        HubServer(MemoryStore([CART, *BITS]), max_views=16) as server,
        grpc.insecure_channel(server.target) as channel,
    ):
        stub = poll_pb2_grpc.PollConfigStub(channel)
        for number in range(40):
            poll(stub, attributes={f"bit{n}": str(number >> n & 1) for n in range(len(BITS))})
        assert 0 < server.stats().views <= 16


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
