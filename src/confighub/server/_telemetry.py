"""What a ``HubServer`` tells about itself: its counters, the fleet view, metrics and health.

``Telemetry`` puts together the parts that watch the serving without taking part
in it: the ``Fleet`` of agents and the ``PollMetrics`` (both ``PollObserver``s
of every answered poll), the Prometheus collector over them and the server's
counters, and the standard gRPC health service. Each can be turned off; what is
off costs nothing on the poll path, and what is on costs a dict update or two.

Everything here runs on the server's event loop, like the polls it watches;
``agents_now`` is how another thread reads the fleet view, through the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from deepproto.proto.resource.v1 import resource_pb2
from reactivex import Observable
from reactivex import empty as rx_empty

from confighub.exceptions import StoreError
from confighub.server._fleet import AgentEvent, AgentInfo, Fleet, agents_json
from confighub.server._health import Health
from confighub.server._metrics import PollMetrics, ServerCollector, exposition, metrics_registry
from confighub.server._poll_service import PollObserver
from confighub.server._tenants import Tenant, TenantLimit, Tenants

__all__ = ["ServerStats", "Telemetry"]


class ServerStats(NamedTuple):
    """Counters of a ``HubServer``; read from another thread, they may be a moment apart."""

    polls: int
    """Polls accepted (authenticated, well-formed), answered or being answered."""
    holds: int
    """Polls that were held (answered later than asked), in all."""
    held: int
    """Polls being held right now."""
    serializations: int
    """Response bodies serialized (once per view and hash, not per poll)."""
    snapshots: int
    """Snapshots received."""
    views: int
    """Views (the config of one kind of client, with its response bytes) cached now."""
    http_requests: int = 0
    """Requests the HTTP API answered, refusals included."""
    store_errors: int = 0
    """HTTP writes the store could not do (``StoreUnavailable``, answered 503)."""
    auth_failures: int = 0
    """gRPC calls refused for their credentials, and HTTP requests answered 401."""
    agents: int = 0
    """Agents in the fleet view now (0 with ``track_agents=False``)."""


class Telemetry:
    """The fleet view, the metrics and the health service of one server (see the module)."""

    def __init__(
        self,
        tenants: Tenants,
        stats: Callable[[], ServerStats],
        *,
        track_agents: bool,
        agent_silence: float,
        max_agents: int,
        metrics: bool,
        store_ready: Callable[[], bool],
    ) -> None:
        self._tenants = tenants
        self.fleet = Fleet(silence=agent_silence, max_agents=max_agents) if track_agents else None
        self.poll_metrics = PollMetrics() if metrics else None
        self.registry = None
        if self.poll_metrics is not None:
            collector = ServerCollector(
                self.poll_metrics,
                held=lambda: stats().held,
                agents=self._agent_counts,
                snapshots=lambda: stats().snapshots,
                auth_failures=lambda: stats().auth_failures,
                store_errors=lambda: stats().store_errors,
                http_requests=lambda: stats().http_requests,
                store_ready=store_ready,
            )
            self.registry = metrics_registry(collector)
        self.health = Health()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def observers(self) -> tuple[PollObserver, ...]:
        """What ``PollService`` tells of every answered poll."""
        return tuple(part for part in (self.fleet, self.poll_metrics) if part is not None)

    @property
    def events(self) -> Observable[AgentEvent]:
        """The fleet view's agent events (none with the fleet view off)."""
        return rx_empty() if self.fleet is None else self.fleet.events

    def on_change(self, tenant: Tenant) -> None:
        """A tenant's config changed: counted by the metrics."""
        if self.poll_metrics is not None:
            self.poll_metrics.changed(tenant)

    def add_to(self, server: Any) -> None:
        """Serve the gRPC health service on ``server`` (a ``grpc.aio`` server not yet started)."""
        self.health.add_to(server)

    async def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """The server serves: health says so, and the fleet view starts forgetting the silent."""
        self._loop = loop
        if self.fleet is not None:
            self.fleet.start(loop)
        await self.health.serving()

    async def stop(self) -> None:
        """The server stops: health says so for good, and the fleet view stops sweeping."""
        self._loop = None
        if self.fleet is not None:
            self.fleet.stop()
        await self.health.not_serving(for_good=True)

    def agents(self, tenant: str | None) -> list[AgentInfo]:
        """The agents of ``tenant`` (None: all), converged or not as of now; on the loop."""
        if self.fleet is None:
            return []
        return self.fleet.agents(tenant, self._current_hash)

    def agents_json(self, tenant: str) -> Mapping[str, Any]:
        """The body of ``GET /api/agents`` for ``tenant``."""
        return agents_json(self.agents(tenant))

    def agents_now(self, tenant: str | None, timeout: float) -> list[AgentInfo]:
        """``agents(tenant)`` from any thread: asked of the loop, which owns the views."""
        loop = self._loop
        if loop is None:
            return []
        if _running_loop() is loop:  # an agents observer, say: asking the loop would wait on itself
            return self.agents(tenant)

        async def listed() -> list[AgentInfo]:
            return self.agents(tenant)

        return asyncio.run_coroutine_threadsafe(listed(), loop).result(timeout)

    def metrics(self) -> tuple[bytes, str]:
        """The Prometheus exposition (``GET /metrics``)."""
        if self.registry is None:
            return b"", "text/plain"
        return exposition(self.registry)

    def _agent_counts(self) -> Mapping[str, int]:
        return {} if self.fleet is None else self.fleet.counts()

    def _current_hash(self, tenant_name: str, key: bytes) -> str | None:
        # The hash an agent of this resource is served now: its view, built if need be.
        try:
            tenant = self._tenants.get(tenant_name)
        except (TenantLimit, StoreError):  # no tenant to ask: the agent's last word stands
            return None
        resource = resource_pb2.Resource.FromString(key)
        return tenant.views.view_for(resource, key).hash


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
