"""HubServer's cache of per-client views stays bounded, and drops what a change made stale."""

from __future__ import annotations

from typing import Any

import grpc
from deepproto.proto.poll.v1 import poll_pb2_grpc

from confighub import TracePoint, config_hash
from confighub.server import HubServer, MemoryStore, StoreState
from confighub.server._views import DEFAULT_MAX_VIEWS, ViewCache
from tests.support.polling import poll, resource

CART = TracePoint("cart", "shop/cart.py", 12)
TOKEN = "t0ken"
AUTHORIZED = (("authorization", f"Bearer {TOKEN}"),)
SERVER_LOGGER = "confighub.server"


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
