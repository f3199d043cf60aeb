"""``HubServer``: a Deep ``PollConfig`` server on a ``grpc.aio`` event loop in one thread.

One background thread runs an asyncio loop that runs the gRPC server; every
RPC is a coroutine on it. A held poll is a suspended coroutine, not a blocked
thread, so a thousand of them cost a thousand small objects, not a thousand
stacks. The HTTP management API (``confighub.server._http``), when asked for,
runs on the same loop: its requests are coroutines too, sharing the tenants and
their cached bytes with the polls.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import threading
from collections.abc import Callable
from typing import Any, Final, Self

from reactivex import Observable

from confighub._internal.lifecycle import StartStop
from confighub.exceptions import LifecycleError, ServeFailed
from confighub.server._fleet import AgentEvent, AgentInfo
from confighub.server._http import DEFAULT_MAX_BODY_SIZE, HttpApi
from confighub.server._http_access import CountingAuthenticator
from confighub.server._http_probes import store_readiness
from confighub.server._listener import TlsSetting, join, tls_credentials
from confighub.server._poll_service import PollService
from confighub.server._requests import DEFAULT_MAX_POLL_SIZE
from confighub.server._serving import Serving
from confighub.server._telemetry import ServerStats, Telemetry
from confighub.server._tenants import DEFAULT_MAX_TENANTS, Tenants
from confighub.server._views import DEFAULT_MAX_VIEWS
from confighub.stores import Store

__all__ = ["HubServer", "ServerStats"]

logger = logging.getLogger("confighub")

#: gRPC clients refuse larger messages by default, so a larger config would not arrive anyway.
DEFAULT_MAX_MESSAGE_SIZE: Final = 4 * 1024 * 1024
_UNSET_PORT: Final = -1


class HubServer(StartStop):
    """Serves a store's tracepoints to Deep agents over ``PollConfig``, and accepts snapshots.

    ``start()`` binds ``host:port`` (port 0 picks a free one; see ``port`` and
    ``target``) and serves from a background thread until ``stop()``.

    - ``token`` makes clients send ``authorization: Bearer <token>``; ``basic``
      (``"user:password"``) makes them send ``authorization: Basic <base64>``.
      With both, either is accepted. A refused call ends ``UNAUTHENTICATED``
      (so does one with more than one ``authorization`` header), its details
      never quoting what the client sent.
    - ``tls_cert``/``tls_key`` enable TLS: PEM contents as ``bytes``, or the path
      of a PEM file as ``str`` or ``os.PathLike``; a key that is not the
      certificate's raises ``ValueError`` here, not at ``start()``.
    - A client that sends the ``confighub-hold`` metadata (seconds) while its
      hash is current is answered when its config changes or after
      ``min(hold, max_hold)`` seconds; other clients are answered at once.
    - ``max_message_size`` bounds both requests and responses; a client whose
      config is larger gets ``RESOURCE_EXHAUSTED`` saying so.
    - ``max_poll_size`` bounds a poll request, checked before it is parsed; a
      poll may also carry at most 128 resource attributes of at most 1 KiB each
      (key and value). A larger or malformed poll gets ``INVALID_ARGUMENT``.
    - ``max_views`` bounds the views cached (one per set of tracepoints that
      some client gets, with its response bytes); the least recently used go first.
    - ``on_snapshot(snapshot)`` gets each ``Snapshot`` an agent sends, on the
      server's event loop thread: it must not block. Its errors are logged.
    - ``multitenant`` serves one config per tenant, named by the ``x-scope-orgid``
      metadata: ``store.tenant(id)`` of a store that holds one per tenant
      (``TenantStores``; a plain store serves every tenant alike). A call that
      names no tenant then ends ``UNAUTHENTICATED``, one with an invalid id
      ``INVALID_ARGUMENT``, and past ``max_tenants`` tenants a new one ends
      ``RESOURCE_EXHAUSTED``. Off (the default), every call is the store's own config.
    - ``http_port`` also serves the HTTP management API (0 picks a free port; see
      ``http_port`` and ``http_url``) with the same credentials, TLS and tenants
      (``X-Scope-OrgID``): Deep's ``/api/tracepoints`` (GET a ``PollResponse``; POST,
      PUT, GET and DELETE tracepoints, with ``ETag`` and ``If-Match``), ``/api/echo``,
      ``/healthz`` and ``/readyz``, under ``http_prefix`` (``"/confighub"``, say), the
      API also under Deep's ``/tracepoints/api``. Bodies are at most ``max_body_size``.
    - ``track_agents`` keeps the fleet view: each agent that polls (tenant, resource,
      peer, first and last poll, the hash it holds, whether that is its view's
      current one) until it has been silent ``agent_silence`` seconds, at most
      ``max_agents`` of them; see ``agents``, ``fleet()`` and ``GET /api/agents``.
    - ``metrics`` counts polls by tenant and answer, their latency, held polls,
      config changes, agents by state, snapshots, auth failures and store errors
      for ``GET /metrics`` (Prometheus). The standard gRPC health service
      (``grpc.health.v1.Health``) is served either way, without credentials, as
      probes expect.

    The ``confighub.server`` logger gets a WARNING for the first refused call
    from each peer host and an INFO line for each new agent (peer host and
    resource), at most 10 of each per 10 s; the rest are counted in one line
    per 10 s.
    """

    def __init__(
        self,
        store: Store,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        basic: str | None = None,
        tls_cert: TlsSetting = None,
        tls_key: TlsSetting = None,
        max_hold: float = 30.0,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_poll_size: int = DEFAULT_MAX_POLL_SIZE,
        max_views: int = DEFAULT_MAX_VIEWS,
        on_snapshot: Callable[[Any], object] | None = None,
        multitenant: bool = False,
        max_tenants: int = DEFAULT_MAX_TENANTS,
        http_port: int | None = None,
        http_prefix: str = "",
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        track_agents: bool = True,
        agent_silence: float = 300.0,
        max_agents: int = 100_000,
        metrics: bool = True,
    ) -> None:
        if not (math.isfinite(max_hold) and max_hold >= 0):
            raise ValueError(f"max_hold must be a finite number of seconds >= 0, got {max_hold!r}")
        if max_message_size <= 0:
            raise ValueError(f"max_message_size must be > 0 bytes, got {max_message_size!r}")
        if max_poll_size <= 0:
            raise ValueError(f"max_poll_size must be > 0 bytes, got {max_poll_size!r}")
        self._store = store
        self._host = host
        self._requested_port = port
        self._credentials = tls_credentials(tls_cert, tls_key)
        authenticator = None
        if token is not None or basic is not None:
            authenticator = CountingAuthenticator(token=token, basic=basic)
        self._authenticator = authenticator
        self._tenants = Tenants(
            store, multitenant=multitenant, max_views=max_views, max_tenants=max_tenants
        )
        self._telemetry = Telemetry(
            self._tenants,
            self.stats,
            track_agents=track_agents,
            agent_silence=agent_silence,
            max_agents=max_agents,
            metrics=metrics,
            store_ready=lambda: store_readiness(store) is None,
        )
        telemetry = self._telemetry
        self._http = None
        if http_port is not None:
            self._http = HttpApi(
                self._tenants,
                store,
                host=host,
                port=http_port,
                prefix=http_prefix,
                max_body_size=max_body_size,
                token=token,
                basic=basic,
                tls=(tls_cert, tls_key),
                agents=telemetry.agents_json if track_agents else None,
                metrics=telemetry.metrics if metrics else None,
            )
        self._service = PollService(
            self._tenants,
            authenticator=authenticator,
            max_hold=max_hold,
            max_message_size=max_message_size,
            max_poll_size=max_poll_size,
            on_snapshot=on_snapshot,
            observers=telemetry.observers,
        )
        self._serving = Serving(
            store=store,
            host=host,
            port=port,
            credentials=self._credentials,
            options=[
                ("grpc.max_send_message_length", max_message_size),
                ("grpc.max_receive_message_length", max_message_size),
                # gRPC sets SO_REUSEPORT by default on Linux, and a second server on a busy
                # port would then start without error and get a share of the calls.
                ("grpc.so_reuseport", 0),
            ],
            tenants=self._tenants,
            service=self._service,
            http=self._http,
            telemetry=telemetry,
        )
        self._lifecycle = threading.Lock()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_requested: asyncio.Event | None = None
        self._port = _UNSET_PORT
        self._stopped = False

    def __repr__(self) -> str:
        where = join(self._host, self._requested_port if self._port == _UNSET_PORT else self._port)
        if self._http is not None:
            where += f", http {self._http.address}"
        state = "stopped" if self._stopped else "serving" if self._thread else "not started"
        return f"HubServer({where}, {state}, tls={self._credentials is not None})"

    @property
    def port(self) -> int:
        """The port the server listens on (known once started)."""
        if self._port == _UNSET_PORT:
            raise LifecycleError("the HubServer has no port until start() is called")
        return self._port

    @property
    def target(self) -> str:
        """``host:port`` to give a gRPC channel (known once started)."""
        return join(self._host, self.port)

    @property
    def http_port(self) -> int:
        """The port the HTTP API listens on (known once started, with ``http_port`` given)."""
        return self._serving_http().port

    @property
    def http_url(self) -> str:
        """``http://host:port`` (``https`` with TLS) and the prefix: the HTTP API's base URL."""
        return self._serving_http().url

    def _serving_http(self) -> HttpApi:
        if self._http is None:
            raise LifecycleError("this HubServer serves no HTTP API: give it an http_port")
        return self._http

    @property
    def store(self) -> Store:
        """The store the server serves from."""
        return self._store

    @property
    def agents(self) -> Observable[AgentEvent]:
        """Each agent's ``seen``, ``converged``, ``behind`` and ``gone``, on the server's thread.

        An agent is behind from the poll that is answered with a config it does
        not hold, and converged from its first poll that holds its view's hash;
        it is gone after ``agent_silence`` seconds without a poll. Observers must
        be quick; one that raises is logged and the others go on. No events with
        ``track_agents=False``.
        """
        return self._telemetry.events

    def fleet(self, tenant: str | None = None, *, timeout: float = 10.0) -> list[AgentInfo]:
        """The agents of ``tenant`` (None: of every tenant), each converged or not as of now.

        Empty before ``start()``, after ``stop()`` and with ``track_agents=False``.
        """
        return self._telemetry.agents_now(tenant, timeout)

    def stats(self) -> ServerStats:
        """Return the server's counters."""
        service, http, auth = self._service, self._http, self._authenticator
        return ServerStats(
            service.polls,
            service.holds,
            service.held,
            service.serializations,
            service.snapshots,
            service.views,
            http.requests if http else 0,
            http.store_errors if http else 0,
            (auth.refused if auth else 0) + (http.access.auth_failures if http else 0),
            len(fleet) if (fleet := self._telemetry.fleet) is not None else 0,
        )

    def start(self) -> Self:
        """Bind and serve from a background thread; return once serving. Idempotent.

        Raises ``ServeFailed`` if the address cannot be bound, and ``LifecycleError``
        if the server was stopped (both are ``RuntimeError`` too).
        """
        with self._lifecycle:
            if self._stopped:
                raise LifecycleError(
                    "a stopped HubServer cannot be started again; create a new one"
                )
            if self._thread is not None:
                return self
            self._thread = threading.Thread(target=self._run, name="confighub-server", daemon=True)
            self._thread.start()
            self._ready.wait()
            error = self._startup_error
            if error is not None:
                self._thread.join()
                self._stopped = True
                self._startup_error = None
                raise error
        logger.info("HubServer serving PollConfig on %s", self.target)
        if self._http is not None:
            logger.info("HubServer serving its HTTP API on %s", self._http.url)
        return self

    def stop(self, grace: float | None = 1.0) -> None:
        """Answer held polls, stop serving and join the thread; idempotent.

        Calls still running after ``grace`` seconds are cancelled (None: at once).
        """
        with self._lifecycle:
            thread, self._stopped = self._thread, True
            loop, stop_requested = self._loop, self._stop_requested
            if thread is None or loop is None or stop_requested is None:
                return
            self._serving.grace = grace
            self._loop = None
            loop.call_soon_threadsafe(stop_requested.set)
            thread.join()

    def _run(self) -> None:
        try:
            asyncio.run(self._serving.run(self._serves))
        except ServeFailed as err:
            self._startup_error = err
        finally:
            # An aborted call leaves a reference cycle (its AbortError's traceback
            # holds the call's context) that keeps the grpc.aio runtime alive, and
            # with it a poller thread, until the garbage collector breaks it: now.
            gc.collect()
            # Whatever happened, start() must not wait forever.
            self._ready.set()

    def _serves(self, port: int, stop_requested: asyncio.Event) -> None:
        self._loop, self._port = asyncio.get_running_loop(), port
        self._stop_requested = stop_requested
        self._ready.set()
