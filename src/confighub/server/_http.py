"""The HTTP management API of ``HubServer``: an aiohttp app on the server's own event loop.

The app runs on the loop that runs the ``grpc.aio`` server, so a request is a
coroutine like a poll, sharing the tenants, their views and their cached bytes
with no lock and no thread per request; only a store's write goes to a worker
thread (``confighub.server._http_routes``). One middleware answers every
failure as ``{"error": ...}`` JSON (``confighub.server._http_errors``), so
aiohttp's own 404 and 405 read like the API's refusals, and an unexpected
exception is logged with its traceback while the client gets a generic 500.

Each route is one of three kinds: public (``/healthz``, ``/readyz``,
``/api/echo``: probes and Grafana's "Test" button send no credentials), checked
(``/metrics``: the ``Authorization`` header, as gRPC checks it), and tenant routes
(credentials, then the ``X-Scope-OrgID`` tenant, then the route, whose answer
carries the tenant's config hash as its ``ETag``, refusals included). The API is
served under ``{prefix}/api`` and, as Deep serves it internally, under
``{prefix}/tracepoints/api``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, Final

from aiohttp import web

from confighub._internal.text import cut, shown
from confighub._wire.credentials import server_ssl_context
from confighub.exceptions import (
    InvalidTracePoint,
    LifecycleError,
    ServeFailed,
    StoreError,
    StoreUnavailable,
)
from confighub.server._audit import Audit
from confighub.server._http_access import HttpAccess
from confighub.server._http_errors import (
    INTERNAL_ERROR,
    ApiError,
    ProtocolLog,
    error_response,
    etag,
    store_refusal,
)
from confighub.server._http_probes import Agents, Metrics, Probes, echo, healthz
from confighub.server._http_quiet import quiet
from confighub.server._http_routes import TracePointRoutes
from confighub.server._listener import TlsSetting, join
from confighub.server._tenants import Tenant, Tenants
from confighub.stores import Store

__all__ = ["DEFAULT_MAX_BODY_SIZE", "HttpApi"]

logger = logging.getLogger("confighub")

DEFAULT_MAX_BODY_SIZE: Final = 1024 * 1024
"""Bytes of a request body at most: one tracepoint's JSON is a few hundred, so a whole
config (``PUT /api/tracepoints``) of a few thousand fits."""

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_TenantHandler = Callable[[web.Request, Tenant], Awaitable[web.StreamResponse]]
# Segments of letters, digits and -._~: nothing aiohttp's route syntax ({}) or a URL reads.
_PREFIX: Final = re.compile(r"(/[A-Za-z0-9._~-]+)*")
# How long a request still running after the grace of stop() gets to see its cancellation.
_CANCELLED_WITHIN: Final = 0.1
# aiohttp's own bounds on what arrives before a handler runs (the query is in the line).
_MAX_LINE: Final = 8190
_MAX_HEADERS: Final = 100
_UNSET: Final = -1


class HttpApi:
    """The management API's app, its lifecycle on the loop, and its counters.

    ``requests`` counts the requests answered, ``store_errors`` the writes a
    store could not do (``StoreUnavailable``); ``access.auth_failures`` the 401s.
    """

    def __init__(
        self,
        tenants: Tenants,
        store: Store,
        *,
        host: str,
        port: int,
        prefix: str,
        max_body_size: int,
        token: str | None,
        basic: str | None,
        tls: tuple[TlsSetting, TlsSetting],
        agents: Agents | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"http_port must be a port number (0 picks one), got {port!r}")
        if _PREFIX.fullmatch(prefix) is None:
            raise ValueError(
                f"http_prefix must be empty or start with '/', not end with it, and hold only"
                f" letters, digits and -._~ between slashes (such as '/confighub'), got"
                f" {shown(prefix, 80)}"
            )
        if max_body_size <= 0:
            raise ValueError(f"max_body_size must be > 0 bytes, got {max_body_size!r}")
        self._tenants = tenants
        self._host, self._requested_port, self._port = host, port, _UNSET
        self._prefix = prefix
        self._max_body_size = max_body_size
        self._ssl_context = None if tls[0] is None else server_ssl_context(*tls)
        self._probes = Probes(store, agents=agents, metrics=metrics)
        self._routes = TracePointRoutes(max_body_size=max_body_size, clock=clock)
        self._audit = Audit()
        self.access = HttpAccess(tenants, token=token, basic=basic, audit=self._audit)
        self._runner: web.AppRunner | None = None
        self._in_flight = 0
        self._idle: asyncio.Event | None = None
        self.requests = 0
        self.store_errors = 0

    @property
    def address(self) -> str:
        """``host:port``, the port as asked for until it is bound."""
        return join(self._host, self._requested_port if self._port == _UNSET else self._port)

    @property
    def port(self) -> int:
        """The port bound; ``LifecycleError`` before ``start()``."""
        if self._port == _UNSET:
            raise LifecycleError("the HubServer has no HTTP port until start() is called")
        return self._port

    @property
    def url(self) -> str:
        """Where the API is: ``http://host:port`` (``https`` with TLS) and the prefix."""
        scheme = "http" if self._ssl_context is None else "https"
        return f"{scheme}://{join(self._host, self.port)}{self._prefix}"

    def application(self) -> web.Application:
        """The aiohttp app: every route under the prefix, behind the one error middleware."""
        app = web.Application(middlewares=[self._middleware()], client_max_size=self._max_body_size)
        router, prefix, routes = app.router, self._prefix, self._routes
        probes = self._probes
        router.add_get(f"{prefix}/healthz", healthz)
        router.add_get(f"{prefix}/readyz", probes.readyz)
        router.add_get(f"{prefix}/metrics", self._checked(probes.metrics))
        for api in (f"{prefix}/api", f"{prefix}/tracepoints/api"):
            router.add_get(f"{api}/echo", echo)
            router.add_get(f"{api}/agents", self._tenant_route(probes.agents))
            base = f"{api}/tracepoints"
            router.add_get(base, self._tenant_route(routes.poll))
            router.add_post(base, self._tenant_route(routes.create))
            router.add_put(base, self._tenant_route(routes.set))
            one = f"{base}/{{id:.+}}"
            router.add_get(one, self._tenant_route(partial(routes.read, base=base)))
            router.add_put(one, self._tenant_route(partial(routes.replace, base=base)))
            router.add_delete(one, self._tenant_route(partial(routes.delete, base=base)))
        return app

    async def start(self) -> None:
        """Serve on the host and port asked for; ``ServeFailed`` naming the address if not."""
        runner = web.AppRunner(
            self.application(),
            access_log=None,
            shutdown_timeout=_CANCELLED_WITHIN,
            max_line_size=_MAX_LINE,
            max_field_size=_MAX_LINE,
            max_headers=_MAX_HEADERS,
            logger=ProtocolLog(self._audit),
        )
        await runner.setup()
        quiet(runner.server)
        try:
            site = web.TCPSite(
                runner, self._host or None, self._requested_port, ssl_context=self._ssl_context
            )
            await site.start()
        except Exception as err:
            await runner.cleanup()
            # asyncio words a bind failure in its own way; the errno's words are gRPC's too.
            said = os.strerror(err.errno) if isinstance(err, OSError) and err.errno else str(err)
            raise ServeFailed(self.address, f"HTTP API: {cut(said)}") from None
        self._idle = asyncio.Event()
        self._idle.set()
        self._audit.start(asyncio.get_running_loop())
        self._runner = runner
        self._port = runner.addresses[0][1]

    async def stop(self, grace: float | None) -> None:
        """Take no more connections, let requests run ``grace`` seconds, cancel the rest."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        for site in list(runner.sites):
            await site.stop()
        idle = self._idle
        if grace and idle is not None and not idle.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(idle.wait(), grace)
        await runner.cleanup()
        self._audit.stop()

    def _middleware(self) -> Any:
        @web.middleware
        async def answer(request: web.Request, handler: _Handler) -> web.StreamResponse:
            self.requests += 1
            self._in_flight += 1
            if self._idle is not None:
                self._idle.clear()
            try:
                return await handler(request)
            except ApiError as err:
                return error_response(err.status, err.message, err.headers)
            except web.HTTPException as err:  # the router's 404 and 405
                return self._refused_by_aiohttp(request, err)
            except Exception:
                path = shown(request.rel_url.raw_path, 200)
                logger.exception("HTTP %s %s failed", request.method, path)
                return error_response(500, INTERNAL_ERROR)
            finally:
                self._in_flight -= 1
                if not self._in_flight and self._idle is not None:
                    self._idle.set()

        return answer

    def _refused_by_aiohttp(self, request: web.Request, err: web.HTTPException) -> web.Response:
        path = shown(request.rel_url.raw_path, 120)
        if err.status == 404:
            message = f"no route {path}: the API is under {self._prefix}/api/tracepoints"
        elif err.status == 405:
            allowed = err.headers.get("Allow", "")
            message = f"{request.method} is not allowed on {path}: use {allowed or 'another'}"
            return error_response(405, message, {"Allow": allowed})
        else:
            message = cut(err.reason or f"HTTP {err.status}")
        return error_response(err.status, message)

    def _checked(self, handler: _Handler) -> _Handler:
        async def route(request: web.Request) -> web.StreamResponse:
            self.access.authenticate(request)
            return await handler(request)

        return route

    def _tenant_route(self, handler: _TenantHandler) -> _Handler:
        async def route(request: web.Request) -> web.StreamResponse:
            self.access.authenticate(request)
            try:
                tenant = self.access.tenant(request)
            except StoreError as err:  # a store of one config per tenant that cannot make it
                raise self._store_refusal(err) from None
            try:
                response = await handler(request, tenant)
            except ApiError as err:
                refusal = err
            except (StoreError, InvalidTracePoint) as err:
                refusal = self._store_refusal(err)
            else:
                response.headers.setdefault("ETag", etag(tenant.store.state.hash))
                return response
            refusal.headers.setdefault("ETag", etag(tenant.store.state.hash))
            raise refusal

        return route

    def _store_refusal(self, err: StoreError | InvalidTracePoint) -> ApiError:
        if isinstance(err, StoreUnavailable):
            self.store_errors += 1
        return store_refusal(err)
