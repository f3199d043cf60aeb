"""Fixtures of the HTTP API tests: a real HubServer with HTTP on 127.0.0.1, and a real client.

Each call goes through ``aiohttp.ClientSession`` inside ``asyncio.run``: the test
thread is not the server's, so a request crosses a real socket to the server's
event loop, as Grafana's or a script's does.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import aiohttp
import pytest
from multidict import CIMultiDict

from confighub import TracePoint
from confighub.server import HubServer, MemoryStore

CHECKOUT = TracePoint("shop/checkout.py:42", "shop/checkout.py", 42)
"""A tracepoint whose id, derived from its file, holds a ``/``."""
CART = TracePoint("cart", "shop/cart.py", 12, {"fire_count": "-1"})


class Answer(NamedTuple):
    """An HTTP answer: status, headers and the body's bytes."""

    status: int
    headers: CIMultiDict[str]
    body: bytes

    def json(self) -> Any:
        """The body, parsed as JSON."""
        return json.loads(self.body)

    @property
    def error(self) -> str:
        """The ``error`` of a refusal's JSON body (and a check that the body is that shape)."""
        data = self.json()
        assert set(data) == {"error"}, data
        assert self.headers["Content-Type"].startswith("application/json")
        message: str = data["error"]
        return message


async def fetch(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    body: object = None,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """One request on ``session``: ``body`` is sent as JSON, ``data`` as it is."""
    sent = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        sent.setdefault("Content-Type", "application/json")
    async with session.request(method, url, data=data, headers=sent) as response:
        return Answer(response.status, CIMultiDict(response.headers), await response.read())


def call(
    method: str,
    url: str,
    *,
    body: object = None,
    data: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> Answer:
    """One request from a fresh client session, as a separate client would make it."""

    async def one() -> Answer:
        connector = aiohttp.TCPConnector(ssl=ssl_context) if ssl_context else None
        async with aiohttp.ClientSession(connector=connector) as session:
            return await fetch(session, method, url, body=body, data=data, headers=headers)

    return asyncio.run(one())


@pytest.fixture
def store() -> MemoryStore:
    """A store of ``CHECKOUT`` and ``CART``."""
    return MemoryStore([CHECKOUT, CART])


@pytest.fixture
def http_server(store: MemoryStore) -> Iterator[HubServer]:
    """A HubServer of ``store`` with its HTTP API on a free port, stopped after the test."""
    with HubServer(store, http_port=0) as server:
        yield server


@pytest.fixture
def api(http_server: HubServer) -> str:
    """The base URL of ``http_server``'s API: ``http://127.0.0.1:PORT/api``."""
    return f"{http_server.http_url}/api"
