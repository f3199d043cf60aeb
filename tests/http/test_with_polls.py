"""HTTP writes and gRPC polls on one server: writes reach held polls, polls never wait on writes."""

from __future__ import annotations

import socket
from concurrent import futures

import aiohttp
import grpc
import pytest
from deepproto.proto.poll.v1 import poll_pb2_grpc

from confighub import ConfigHub, TracePoint
from confighub.server import HubServer
from confighub.sources import GrpcPollSource
from tests.http.conftest import CART, CHECKOUT, call
from tests.support.observing import record_changes
from tests.support.polling import ids, poll
from tests.support.stores import GatedStore
from tests.support.waiting import TIMEOUT, wait_until

BODY = {"tracepoint": {"path": "shop/cart.py", "line_number": 13}}


def test_a_write_reaches_a_long_polling_client(hub: ConfigHub) -> None:
    """A POST wakes the GrpcPollSource's held poll, and its hub gets the new tracepoint."""
    store = GatedStore([CHECKOUT])
    store.release.set()
    with HubServer(store, http_port=0, max_hold=30) as server:
        changes = record_changes(hub)
        with GrpcPollSource(server.target, hub, hold=30, interval=0.05, timeout=40):
            changes.wait_for(lambda seen: len(seen) == 1, "the first config")
            wait_until(lambda: server.stats().held == 1, "the client's held poll")
            body = {"tracepoint": {"ID": "pay", "path": "shop/pay.py", "line_number": 30}}
            assert call("POST", f"{server.http_url}/api/tracepoints", body=body).status == 200
            seen = changes.wait_for(lambda seen: len(seen) == 2, "the write, through the hold")
    assert [tp.id for tp in seen[1].new] == [CHECKOUT.id, "pay"]
    assert seen[1].new_hash == store.hash


def test_polls_are_answered_while_a_write_waits_on_its_store() -> None:
    """While a PUT is stuck in the store, gRPC polls and HTTP reads are answered meanwhile."""
    store = GatedStore([CHECKOUT, CART])
    with (
        HubServer(store, http_port=0) as server,
        futures.ThreadPoolExecutor(1) as pool,
        grpc.insecure_channel(server.target) as channel,
    ):
        url = f"{server.http_url}/api/tracepoints/cart"
        writing = pool.submit(call, "PUT", url, body=BODY)
        assert store.writing.wait(TIMEOUT)
        stub = poll_pb2_grpc.PollConfigStub(channel)
        assert ids(poll(stub)) == {CHECKOUT.id, CART.id}
        assert call("GET", url).json()["tracepoint"]["lineNumber"] == 12
        assert not writing.done()
        store.release.set()
        assert writing.result(TIMEOUT).status == 200
        assert call("GET", url).json()["tracepoint"]["lineNumber"] == 13


def test_a_write_running_at_stop_is_answered_within_the_grace() -> None:
    """stop(grace) stops listening, lets a write in its store finish and answers it, then ends."""
    store = GatedStore([CART])
    server = HubServer(store, http_port=0).start()
    with futures.ThreadPoolExecutor(2) as pool:
        writing = pool.submit(call, "PUT", f"{server.http_url}/api/tracepoints/cart", body=BODY)
        assert store.writing.wait(TIMEOUT)
        stopping = pool.submit(server.stop, 20.0)
        wait_until(lambda: unbound(server.http_port), "the server to stop listening")
        store.release.set()
        assert writing.result(TIMEOUT).status == 200
        stopping.result(TIMEOUT)
    assert store.tracepoints[0].line == 13


def test_a_write_running_at_a_hasty_stop_is_cut_off_but_whole() -> None:
    """stop(None) drops the connection of a write in progress; the store's write is still whole."""
    store = GatedStore([CART])
    server = HubServer(store, http_port=0).start()
    with futures.ThreadPoolExecutor(2) as pool:
        writing = pool.submit(call, "PUT", f"{server.http_url}/api/tracepoints/cart", body=BODY)
        assert store.writing.wait(TIMEOUT)
        stopping = pool.submit(server.stop, None)
        with pytest.raises(aiohttp.ClientError):
            writing.result(TIMEOUT)
        store.release.set()  # the store's own write is not cut: it ends, whole, before stop does
        stopping.result(TIMEOUT)
    assert store.tracepoints == (TracePoint("cart", "shop/cart.py", 13),)


def unbound(port: int) -> bool:
    """Whether nothing listens on ``port`` of 127.0.0.1 now, found by binding it, not by connecting.

    A connection would race the listener's close: asyncio (3.11) then drops the connection it
    accepted in that tick, unclosed, which only the garbage collector notices.
    """
    with socket.socket() as probe:
        # As a server restarting on its port does: connections still open do not hold it.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            probe.listen()
        except OSError:
            return False
    return True
