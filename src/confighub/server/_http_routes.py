"""The tracepoint routes of the HTTP management API: list, read, create, replace, delete, set.

These are the calls Deep's HTTP API takes and its Grafana datasource sends, and
``PUT {base}``, which Deep lacks: the whole config in one step. A route gets its
tenant already resolved (``confighub.server._http``), and writes go to the
tenant's store, which does each one atomically: with ``If-Match`` the hash goes
to the store as ``expected_hash``, so the check and the write are one step and
two operators cannot overwrite each other in silence. A store blocks on its
disk, so it is called on a worker thread: the event loop keeps answering polls
meanwhile, and held polls wake through the store's subscription, as they do for
any other change. A store's refusal (``StoreError``) is left to the caller,
which answers every route's alike.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any
from uuid import uuid4

from aiohttp import web

from confighub._internal.text import shown
from confighub.exceptions import InvalidTracePoint, UnknownTracePoint
from confighub.model import TracePoint
from confighub.server._http_bodies import (
    expected_hash,
    json_body,
    tracepoint_field,
    tracepoints_field,
    url_id,
)
from confighub.server._http_errors import ApiError, etag
from confighub.server._http_polls import poll_answer
from confighub.server._tenants import Tenant
from confighub.stores import WritableStore

__all__ = ["TracePointRoutes"]


class TracePointRoutes:
    """The handlers of ``{base}`` (list, create, set) and ``{base}/{id}`` (read, replace, delete).

    Each takes the request and its tenant; the ``{id}`` ones also ``base``, the
    path the id follows, from which they decode the id themselves.
    """

    def __init__(self, *, max_body_size: int, clock: Callable[[], int]) -> None:
        self._max_body_size = max_body_size
        self._clock = clock

    async def poll(self, request: web.Request, tenant: Tenant) -> web.Response:
        """``GET {base}``: the ``PollResponse`` of the resource the query names."""
        return await poll_answer(request, tenant, self._clock)

    async def read(self, request: web.Request, tenant: Tenant, *, base: str) -> web.Response:
        """``GET {base}/{id}``: ``{"tracepoint": ...}``; 404 if no tracepoint has the id."""
        tp_id = url_id(request, base)
        state = tenant.store.state
        for tp in state.tracepoints:
            if tp.id == tp_id:
                return _answer({"tracepoint": tp.to_json()}, state.hash)
        raise ApiError(404, str(UnknownTracePoint(tp_id)))

    async def create(self, request: web.Request, tenant: Tenant) -> web.Response:
        """``POST {base}``: add the body's tracepoint, under a fresh id unless it names one."""
        store = _writable(tenant)
        expected = expected_hash(request)
        tp = await self._tracepoint(request, default_id=uuid4().hex)
        state = await asyncio.to_thread(store.create, tp, expected_hash=expected)
        return _answer({"created": tp.to_json()}, state.hash)

    async def replace(self, request: web.Request, tenant: Tenant, *, base: str) -> web.Response:
        """``PUT {base}/{id}``: put the body's tracepoint in place of ``id``'s, or add it."""
        tp_id = url_id(request, base)
        store = _writable(tenant)
        expected = expected_hash(request)
        tp = await self._tracepoint(request, default_id=tp_id)
        if tp.id != tp_id:
            raise ApiError(
                400,
                f"the body's ID {shown(tp.id, 80)} is not the URL's {shown(tp_id, 80)}:"
                " leave ID out of the body, or make the two equal",
            )
        state = await asyncio.to_thread(store.replace, tp, expected_hash=expected)
        return _answer({"tracepoint": tp.to_json()}, state.hash)

    async def delete(self, request: web.Request, tenant: Tenant, *, base: str) -> web.Response:
        """``DELETE {base}/{id}``: remove it; ``{"deleted": ...}``, or 404 if there is none."""
        tp_id = url_id(request, base)
        store = _writable(tenant)
        expected = expected_hash(request)
        state, deleted = await asyncio.to_thread(store.delete, tp_id, expected_hash=expected)
        return _answer({"deleted": deleted.to_json()}, state.hash)

    async def set(self, request: web.Request, tenant: Tenant) -> web.Response:
        """``PUT {base}``: make the body's tracepoints the whole config, in one atomic step.

        Answers ``{"tracepoints": [...]}``, the config as the store holds it after.
        """
        store = _writable(tenant)
        expected = expected_hash(request)
        entries = tracepoints_field(await json_body(request, self._max_body_size))
        # Off the loop, parsing and answering too: a body of max_body_size holds thousands
        # of tracepoints, and each is checked by the model and made JSON again.
        body, config_hash = await asyncio.to_thread(_set, store, entries, expected)
        return _answer(body, config_hash)

    async def _tracepoint(self, request: web.Request, *, default_id: str) -> TracePoint:
        data = tracepoint_field(await json_body(request, self._max_body_size))
        try:
            return TracePoint.from_json(data, default_id=default_id)
        except InvalidTracePoint as err:
            raise ApiError(400, str(err)) from None


def _writable(tenant: Tenant) -> WritableStore:
    store = tenant.store
    if not isinstance(store, WritableStore):
        raise ApiError(
            409,
            f"this store takes no writes ({type(store).__name__}): change its config where it"
            " comes from",
        )
    return store


def _set(store: WritableStore, entries: Sequence[Any], expected: str | None) -> tuple[bytes, str]:
    """Parse ``entries``, set them as ``store``'s config; return the answer's body and hash."""
    tracepoints = []
    for index, data in enumerate(entries):
        try:
            tracepoints.append(TracePoint.from_json(data, default_id=uuid4().hex))
        except InvalidTracePoint as err:
            raise ApiError(400, f"tracepoints[{index}]: {err}") from None
    state = store.set(tracepoints, expected_hash=expected)
    body = {"tracepoints": [tp.to_json() for tp in state.tracepoints]}
    return json.dumps(body).encode(), state.hash


def _answer(body: dict[str, Any] | bytes, config_hash: str) -> web.Response:
    """A JSON answer (or its bytes) whose ``ETag`` is the hash of the config read or written."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = web.Response(body=raw, content_type="application/json")
    response.headers["ETag"] = etag(config_hash)
    return response
