"""Tests of the server's observers: the fleet view, the metrics, the health service.

What they share: answered polls built from real views of a store state, as the
poll service reports them.
"""

from __future__ import annotations

from confighub import TracePoint, config_hash
from confighub._wire.tenants import DEFAULT_TENANT
from confighub.server import StoreState
from confighub.server._poll_service import AnsweredPoll
from confighub.server._views import View, ViewCache, resource_key
from confighub.sources._poller import resource_proto
from tests.support.polling import resource

CART = TracePoint("cart", "shop/cart.py", 12)
BASKET = TracePoint("basket", "shop/basket.py", 7)


def view_of(version: int, *tracepoints: TracePoint) -> View:
    """The view every client gets of a store state holding ``tracepoints``."""
    cache = ViewCache(StoreState(version, tracepoints, config_hash(tracepoints)))
    return cache.view_for(resource())


def key_of(**attributes: object) -> bytes:
    """The resource key the server makes of a client's resource attributes (scalars)."""
    return resource_key(resource_proto(attributes))


def answered(
    view: View,
    held: str,
    *,
    tenant: str = DEFAULT_TENANT,
    peer: str = "ipv4:10.0.0.1:50000",
    key: bytes | None = None,
    started: int = 0,
    hold: float = 0.0,
) -> AnsweredPoll:
    """A poll answered from ``view`` to a client that held ``held`` (of the default tenant)."""
    return AnsweredPoll(
        tenant, peer, key_of(service="cart") if key is None else key, held, view, started, hold
    )
