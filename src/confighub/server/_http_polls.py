"""``GET /api/tracepoints``: a Deep ``PollResponse`` over HTTP, made of a view's cached bytes.

Deep's HTTP API answers this GET as its ``PollConfig`` answers a poll: the query
parameters are the client's resource (each a string attribute, but ``ts`` and
``hash``), the answer the view of that resource, ``NO_CHANGE`` when ``hash`` is
its hash and ``UPDATE`` otherwise, its tracepoints listed in both cases.

Both forms come from what the view caches, so a GET costs about what a poll
does. The protobuf form (``Accept: application/protobuf``, what Deep's Grafana
datasource asks for) is the gRPC answer's bytes: ``ts_field(now)`` and the
view's UPDATE body, and for NO_CHANGE a ``response_type`` field appended, since
protobuf keeps the last value of a scalar field it reads. The JSON form is
protobuf's JSON mapping; everything in it but ``tsNanos`` and ``responseType``
(the hash and the tracepoints) is serialized once per view and kept on it. A store
that has lost its config and waits for a whole one (its ``initialized`` is False)
adds ``"initialized": false`` to the JSON form, in the uncached head; a store without
that attribute is initialized, and its answer is Deep's own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, Final

from aiohttp import web
from deepproto.proto.poll.v1 import poll_pb2
from deepproto.proto.resource.v1 import resource_pb2

from confighub._internal.text import shown
from confighub._wire.anyvalue import encode_key_values
from confighub.model import TracePoint
from confighub.server._http_errors import ApiError
from confighub.server._requests import MAX_ATTRIBUTE_SIZE, MAX_ATTRIBUTES
from confighub.server._tenants import Tenant
from confighub.server._views import OFFLOAD_AT, View, resource_key, ts_field

__all__ = ["PROTOBUF", "poll_answer"]

PROTOBUF: Final = "application/protobuf"
"""The media type Deep's clients ask for (and Deep answers with) for binary protobuf."""

_PROTOBUF_TYPES: Final = frozenset({PROTOBUF, "application/x-protobuf"})
_NO_CHANGE_FIELD: Final = b"\x20" + bytes([poll_pb2.NO_CHANGE])  # field 4, a varint
_SHOWN_KEY: Final = 60


async def poll_answer(
    request: web.Request, tenant: Tenant, clock: Callable[[], int]
) -> web.Response:
    """The ``PollResponse`` for the resource that ``request``'s query names, in the form asked."""
    resource, held = _poll_query(request)
    key = resource_key(resource)
    tenant.refresh()
    views = tenant.views
    await views.prepare(resource, key)
    view = views.view_for(resource, key)
    no_change = view.hash == held
    if _wants_protobuf(request):
        body = ts_field(clock()) + await views.update_body(view)
        if no_change:
            body += _NO_CHANGE_FIELD
        return web.Response(body=body, content_type=PROTOBUF)
    kind = b"NO_CHANGE" if no_change else b"UPDATE"
    head = b'{"tsNanos":"%d","responseType":"%s",' % (clock(), kind)
    if not getattr(tenant.store, "initialized", True):
        head += b'"initialized":false,'
    return web.Response(body=head + await _json_tail(view), content_type="application/json")


def _poll_query(request: web.Request) -> tuple[Any, str]:
    """The resource and the held hash of a GET's query; ``ApiError`` 400 if it is malformed."""
    query = request.rel_url.query
    attributes: dict[str, str] = {}
    held = ""
    seen: set[str] = set()
    for name, value in query.items():
        if name in seen:
            raise ApiError(400, f"query parameter {shown(name, _SHOWN_KEY)} is given twice")
        seen.add(name)
        if name == "hash":
            held = value
        elif name == "ts":
            if not (value.isascii() and value.isdigit()):
                raise ApiError(
                    400, f"query parameter 'ts' must be nanoseconds, got {shown(value, 40)}"
                )
        else:
            _check_attribute(name, value)
            attributes[name] = value
    if len(attributes) > MAX_ATTRIBUTES:
        raise ApiError(
            400,
            f"the query names {len(attributes)} resource attributes, over the server's limit"
            f" of {MAX_ATTRIBUTES}",
        )
    # Sorted: the same attributes in another order are the same client, one cache entry.
    ordered = dict(sorted(attributes.items()))
    return resource_pb2.Resource(attributes=encode_key_values(ordered)), held


def _check_attribute(name: str, value: str) -> None:
    for what, text in (("name", name), ("value", value)):
        if len(text.encode("utf-8", "surrogatepass")) > MAX_ATTRIBUTE_SIZE:
            raise ApiError(
                400,
                f"the {what} of query parameter {shown(name, _SHOWN_KEY)} is over the server's"
                f" limit of {MAX_ATTRIBUTE_SIZE} bytes",
            )
    if not name:
        raise ApiError(400, "a query parameter has an empty name")


def _wants_protobuf(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return any(
        part.split(";", 1)[0].strip().lower() in _PROTOBUF_TYPES for part in accept.split(",")
    )


async def _json_tail(view: View) -> bytes:
    """``"currentHash":...,"response":[...]}`` of ``view``, serialized once and kept on it."""
    cached = view.http_json
    if isinstance(cached, bytes):
        return cached
    if cached is None:
        tracepoints = view.tracepoints
        if len(tracepoints) < OFFLOAD_AT:
            made = _tail(view.hash, tracepoints)
            view.http_json = made
            return made
        # A large view is serialized on a worker thread (1,000 tracepoints take some 25 ms
        # of JSON), and every GET that needs it meanwhile waits for that one serialization.
        loop = asyncio.get_running_loop()
        cached = asyncio.ensure_future(loop.run_in_executor(None, _tail, view.hash, tracepoints))
        view.http_json = cached
    try:
        # Shielded: a request cancelled while waiting must not cancel the others' serialization.
        made = await asyncio.shield(cached)
    except Exception:
        if view.http_json is cached:
            view.http_json = None  # the next GET tries again, rather than fail forever
        raise
    view.http_json = made
    return made


def _tail(digest: str, tracepoints: tuple[TracePoint, ...]) -> bytes:
    listed = json.dumps([tp.to_json() for tp in tracepoints], separators=(",", ":"))
    return b'"currentHash":%s,"response":%s}' % (json.dumps(digest).encode(), listed.encode())
