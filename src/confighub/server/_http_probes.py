"""The HTTP routes around the tracepoint API: health, readiness, echo, agents and metrics.

``/healthz`` says the process serves; ``/readyz`` also that its store is loaded
and good, so that an orchestrator sends no traffic to a server whose file is
broken (a ``FileStore`` keeps serving its last good config meanwhile, and says
why in ``error``) or whose store is unavailable. ``/api/echo`` is what Deep's
Grafana datasource checks when its "Test" button is pressed. ``/api/agents`` and
``/metrics`` answer through callables the server is given, and 404 without them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from confighub._internal.text import cut
from confighub.server._http_errors import ApiError
from confighub.server._tenants import Tenant

__all__ = ["Agents", "Metrics", "Probes", "echo", "healthz", "store_readiness"]

Agents = Callable[[str], Mapping[str, Any]]
"""``GET /api/agents``: the JSON of a tenant's agents, by tenant name."""

Metrics = Callable[[], tuple[bytes, str]]
"""``GET /metrics``: the exposition's bytes and their content type."""


async def healthz(request: web.Request) -> web.Response:
    """``{"status": "ok"}``: the process serves (no credentials needed)."""
    return web.json_response({"status": "ok"})


async def echo(request: web.Request) -> web.Response:
    """``echo`` and a newline, as text: exactly what Deep's datasource's "Test" checks for."""
    return web.Response(text="echo\n", content_type="text/plain")


def store_readiness(store: object) -> str | None:
    """Why ``store`` is not ready to serve (its last load failed, it is unavailable), or None.

    A store may say why itself, in its ``problem`` (a shared store: unreachable, or
    not initialized).
    """
    error = getattr(store, "error", None)
    if error is not None:
        return f"the store's last load failed, it serves the last good config: {cut(str(error))}"
    problem = getattr(store, "problem", None)
    if problem is not None:
        return cut(str(problem), 600)
    if getattr(store, "available", True) is False:
        return "the store is unavailable"
    return None


class Probes:
    """The routes that answer from the server's store and the callables it was given."""

    def __init__(self, store: object, *, agents: Agents | None, metrics: Metrics | None) -> None:
        self._store = store
        self._agents = agents
        self._metrics = metrics

    async def readyz(self, request: web.Request) -> web.Response:
        """``{"ready": true}``, or 503 ``{"ready": false, "reason": ...}`` (no credentials)."""
        reason = store_readiness(self._store)
        if reason is None:
            return web.json_response({"ready": True})
        return web.json_response({"ready": False, "reason": reason}, status=503)

    async def agents(self, request: web.Request, tenant: Tenant) -> web.Response:
        """The tenant's agents, as the ``agents`` callable lists them; 404 without one."""
        if self._agents is None:
            raise ApiError(404, "this server lists no agents")
        return web.json_response(dict(self._agents(tenant.name)))

    async def metrics(self, request: web.Request) -> web.Response:
        """The ``metrics`` callable's exposition; 404 without one."""
        if self._metrics is None:
            raise ApiError(404, "this server exposes no metrics")
        body, content_type = self._metrics()
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        return response
