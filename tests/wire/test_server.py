"""``HubServer`` over real gRPC on 127.0.0.1: answers by hash, long polls, caching, lifecycle."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from deepproto.proto.poll.v1 import poll_pb2, poll_pb2_grpc
from deepproto.proto.tracepoint.v1 import tracepoint_pb2, tracepoint_pb2_grpc

from confighub import TracePoint, config_hash
from confighub.exceptions import ServeFailed
from confighub.server import HubServer, MemoryStore
from tests.support.polling import ids, poll
from tests.support.threads import alive, started_since
from tests.support.waiting import wait_until

CART = TracePoint("cart", "shop/cart.py", 12, {"fire_count": "-1"})
PAY = TracePoint("pay", "shop/pay.py", 30)
PROD = TracePoint("prod-only", "shop/pay.py", 31, targeting={"env": "prod"})
DEV = TracePoint("dev-only", "shop/pay.py", 32, targeting={"env": ["dev", "test"]})


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore([CART, PAY])


@pytest.fixture
def server(store: MemoryStore) -> Iterator[HubServer]:
    with HubServer(store, max_hold=20.0) as hub_server:
        yield hub_server


@pytest.fixture
def stub(server: HubServer) -> Iterator[Any]:
    with grpc.insecure_channel(server.target) as channel:
        yield poll_pb2_grpc.PollConfigStub(channel)


def test_update_then_no_change_by_hash(store: MemoryStore, stub: Any) -> None:
    """An unknown hash gets UPDATE with the config and its hash; that hash then gets NO_CHANGE."""
    first = poll(stub, "")
    assert first.response_type == poll_pb2.UPDATE
    assert first.current_hash == store.hash == config_hash([CART, PAY])
    assert [TracePoint.from_proto(tp) for tp in first.response] == [CART, PAY]
    assert first.ts_nanos > 0
    again = poll(stub, first.current_hash)
    assert again.response_type == poll_pb2.NO_CHANGE
    assert again.current_hash == first.current_hash
    assert not again.response
    assert again.ts_nanos >= first.ts_nanos


def test_a_store_write_is_served_by_the_next_poll(store: MemoryStore, stub: Any) -> None:
    """What the store holds when a poll arrives is what it is answered with."""
    old = poll(stub).current_hash
    store.remove("pay")
    answer = poll(stub, old)
    assert answer.response_type == poll_pb2.UPDATE
    assert (ids(answer), answer.current_hash) == ({"cart"}, config_hash([CART]))


def test_a_poll_without_hold_metadata_is_answered_at_once(server: HubServer, stub: Any) -> None:
    """A real Deep agent sends no hold metadata: its current hash gets NO_CHANGE, never held."""
    current = poll(stub).current_hash
    assert poll(stub, current).response_type == poll_pb2.NO_CHANGE
    assert server.stats().holds == 0


def test_one_change_wakes_many_held_polls(store: MemoryStore, server: HubServer, stub: Any) -> None:
    """Fifty held polls are all answered UPDATE by a single store change."""
    current = store.hash
    with futures.ThreadPoolExecutor(max_workers=50) as pool:
        held = [pool.submit(poll, stub, current, hold="15") for _ in range(50)]
        wait_until(lambda: server.stats().held == 50, "50 held polls")
        assert not any(future.done() for future in held)
        store.add(TracePoint("new", "shop/new.py", 1))
        answers = [future.result(timeout=10) for future in held]
    assert {answer.response_type for answer in answers} == {poll_pb2.UPDATE}
    assert {answer.current_hash for answer in answers} == {store.hash}
    assert all(ids(answer) == {"cart", "pay", "new"} for answer in answers)
    assert server.stats().held == 0


def test_a_hold_ends_with_no_change_when_nothing_changes(server: HubServer, stub: Any) -> None:
    """A held poll whose config does not change is answered NO_CHANGE when its hold runs out."""
    current = poll(stub).current_hash
    answer = poll(stub, current, hold="0.2")
    assert (answer.response_type, answer.current_hash) == (poll_pb2.NO_CHANGE, current)
    assert server.stats().holds == 1


def test_max_hold_caps_what_the_client_asks_for(store: MemoryStore) -> None:
    """A client asking for an endless hold is answered after the server's max_hold."""
    with (
        HubServer(store, max_hold=0.2) as server,
        grpc.insecure_channel(server.target) as channel,
        futures.ThreadPoolExecutor(max_workers=1) as pool,
    ):
        stub = poll_pb2_grpc.PollConfigStub(channel)
        answer = pool.submit(poll, stub, store.hash, hold="1e9", timeout=None).result(timeout=30)
    assert answer.response_type == poll_pb2.NO_CHANGE


def test_a_hold_ends_before_the_clients_deadline(store: MemoryStore, stub: Any) -> None:
    """A hold longer than the call's deadline is answered NO_CHANGE, not DEADLINE_EXCEEDED."""
    answer = poll(stub, store.hash, hold="1e9", timeout=2.0)
    assert answer.response_type == poll_pb2.NO_CHANGE


@pytest.mark.parametrize("value", ["soon", "-1", "nan", ""])
def test_a_malformed_hold_is_an_invalid_argument(stub: Any, value: str) -> None:
    """A hold that is not a number of seconds >= 0 is refused, naming the metadata key."""
    with pytest.raises(grpc.RpcError) as caught:
        poll(stub, hold=value)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "confighub-hold" in caught.value.details()


def test_stop_answers_held_polls(store: MemoryStore) -> None:
    """Stopping the server answers a held poll NO_CHANGE rather than cutting it off."""
    server = HubServer(store).start()
    with (
        grpc.insecure_channel(server.target) as channel,
        futures.ThreadPoolExecutor(max_workers=1) as pool,
    ):
        held = pool.submit(poll, poll_pb2_grpc.PollConfigStub(channel), store.hash, hold="1e9")
        wait_until(lambda: server.stats().held == 1, "the held poll")
        server.stop()
        assert held.result(timeout=10).response_type == poll_pb2.NO_CHANGE


def test_targeting_gives_each_resource_its_own_config_and_hash(
    store: MemoryStore, stub: Any
) -> None:
    """Clients with different resources get different tracepoints, each with its own hash."""
    store.set([CART, PROD, DEV])
    prod = poll(stub, attributes={"env": "prod"})
    dev = poll(stub, attributes={"env": "test"})
    other = poll(stub, attributes={"service.name": "shop"})
    assert (ids(prod), prod.current_hash) == ({"cart", "prod-only"}, config_hash([CART, PROD]))
    assert (ids(dev), dev.current_hash) == ({"cart", "dev-only"}, config_hash([CART, DEV]))
    assert (ids(other), other.current_hash) == ({"cart"}, config_hash([CART]))
    assert poll(stub, prod.current_hash, attributes={"env": "prod"}).response_type == (
        poll_pb2.NO_CHANGE
    )
    assert poll(stub, prod.current_hash, attributes={"env": "dev"}).response_type == (
        poll_pb2.UPDATE
    )


def test_a_held_poll_sleeps_through_changes_to_other_clients_configs(
    store: MemoryStore, server: HubServer, stub: Any
) -> None:
    """A change that only another resource sees leaves a held poll held; its own change wakes it."""
    store.set([CART, PROD])
    current = poll(stub, attributes={"env": "prod"}).current_hash
    with futures.ThreadPoolExecutor(max_workers=1) as pool:
        held = pool.submit(poll, stub, current, hold="15", attributes={"env": "prod"})
        wait_until(lambda: server.stats().held == 1, "the held poll")
        store.add(DEV)
        assert ids(poll(stub, attributes={"env": "dev"})) == {"cart", "dev-only"}
        store.add(prod_2 := TracePoint("prod-2", "p.py", 2, targeting={"env": "prod"}))
        answer = held.result(timeout=10)
    # Released by the DEV change, it would have been answered NO_CHANGE.
    assert answer.response_type == poll_pb2.UPDATE
    assert answer.current_hash == config_hash([CART, PROD, prod_2])


def test_response_bodies_are_serialized_once_per_view(
    store: MemoryStore, server: HubServer, stub: Any
) -> None:
    """Repeated polls reuse the cached bytes (with a fresh ts); an unrelated change keeps them."""
    store.set([CART, PROD, DEV])
    first = poll(stub, attributes={"env": "prod"})
    poll(stub, first.current_hash, attributes={"env": "prod"})
    serialized = server.stats().serializations
    answers = [poll(stub, attributes={"env": "prod"}) for _ in range(20)]
    answers += [poll(stub, first.current_hash, attributes={"env": "prod"}) for _ in range(20)]
    assert server.stats().serializations == serialized
    assert all(a.response == first.response for a in answers[:20])
    assert all(a.current_hash == first.current_hash for a in answers)
    # The cached body carries no time: each answer is stamped when it is sent.
    assert len({a.ts_nanos for a in answers}) > 1

    store.add(TracePoint("dev-2", "d.py", 2, targeting={"env": "dev"}))
    assert poll(stub, attributes={"env": "prod"}).current_hash == first.current_hash
    assert server.stats().serializations == serialized


def test_snapshots_reach_the_callback_even_after_it_raised(
    store: MemoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    """Each sent snapshot reaches on_snapshot; a callback that raises is logged, the call is OK."""
    received: list[Any] = []

    def on_snapshot(snapshot: Any) -> None:
        received.append(snapshot)
        if len(received) == 1:
            raise RuntimeError("observer broke")

    with (
        HubServer(store, on_snapshot=on_snapshot) as server,
        grpc.insecure_channel(server.target) as channel,
    ):
        stub = tracepoint_pb2_grpc.SnapshotServiceStub(channel)
        for line in (1, 2):
            sent = tracepoint_pb2.Snapshot(
                tracepoint=tracepoint_pb2.TracePointConfig(ID=f"t{line}")
            )
            assert stub.send(sent, timeout=10) == tracepoint_pb2.SnapshotResponse()
        assert server.stats().snapshots == 2
    assert [snapshot.tracepoint.ID for snapshot in received] == ["t1", "t2"]
    assert "on_snapshot callback" in caplog.text
    assert "observer broke" in caplog.text


def test_an_oversized_config_is_refused_with_a_clear_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A config over max_message_size ends RESOURCE_EXHAUSTED, saying the size and the limit."""
    big = [TracePoint(f"tp{i}", "big.py", i, {"condition": "x" * 500}) for i in range(10)]
    with (
        HubServer(MemoryStore(big), max_message_size=2048) as server,
        grpc.insecure_channel(server.target) as channel,
    ):
        stub = poll_pb2_grpc.PollConfigStub(channel)
        for _ in range(2):
            with pytest.raises(grpc.RpcError) as caught:
                poll(stub)
            assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "max_message_size of 2048" in caught.value.details()
    assert caplog.text.count("max_message_size of 2048") == 1


def test_stop_leaves_no_thread_behind(store: MemoryStore) -> None:
    """After stop() no thread remains: neither the loop thread nor grpc.aio's poller."""
    before = alive()
    server = HubServer(store).start()
    with grpc.insecure_channel(server.target) as channel:
        stub = poll_pb2_grpc.PollConfigStub(channel)
        poll(stub, poll(stub).current_hash, hold="0.01")
        with pytest.raises(grpc.RpcError):
            poll(stub, hold="bad")
    server.stop()
    server.stop()
    assert not started_since(before)


def test_lifecycle_errors_say_what_to_do(store: MemoryStore, server: HubServer) -> None:
    """No port before start, no restart after stop, and a busy port fails to start."""
    idle = HubServer(store)
    with pytest.raises(RuntimeError, match="start"):
        _ = idle.port
    assert server.start() is server
    busy = HubServer(store, port=server.port)
    with pytest.raises(ServeFailed, match=f"cannot serve on 127.0.0.1:{server.port}"):
        busy.start()
    idle.start()
    idle.stop()
    with pytest.raises(RuntimeError, match="create a new one"):
        idle.start()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_hold": -1.0}, "max_hold"),
        ({"max_hold": float("inf")}, "max_hold"),
        ({"max_message_size": 0}, "max_message_size"),
        ({"max_poll_size": 0}, "max_poll_size"),
        ({"max_views": 0}, "max_views"),
        ({"tls_cert": b"-----BEGIN CERTIFICATE-----"}, "both tls_cert and tls_key"),
    ],
)
def test_bad_options_are_refused_up_front(
    store: MemoryStore, options: dict[str, Any], message: str
) -> None:
    """A bad option raises ValueError at construction, naming the option."""
    with pytest.raises(ValueError, match=message):
        HubServer(store, **options)


def test_the_log_says_where_the_server_listens(
    store: MemoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    """Starting logs the target to give agents."""
    with caplog.at_level(logging.INFO, logger="confighub"), HubServer(store) as server:
        assert f"serving PollConfig on {server.target}" in caplog.text
