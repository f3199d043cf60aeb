"""Fixtures of the wire tests: a HubServer of one tracepoint and a plain channel to it."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from confighub import TracePoint
from confighub.server import HubServer, MemoryStore

CART = TracePoint("cart", "shop/cart.py", 12)
"""The one tracepoint ``hub_server`` serves."""


@pytest.fixture
def hub_server() -> Iterator[HubServer]:
    """A HubServer of ``CART``, no credentials asked, stopped after the test."""
    with HubServer(MemoryStore([CART])) as server:
        yield server


@pytest.fixture
def channel(hub_server: HubServer) -> Iterator[grpc.Channel]:
    """An insecure channel to ``hub_server``, closed after the test."""
    with grpc.insecure_channel(hub_server.target) as the_channel:
        yield the_channel
