"""The standard gRPC health service (``grpc.health.v1.Health``) for the server's services.

Load balancers and Kubernetes' gRPC probes ask ``Health.Check`` whether a
server, or one service of it, is serving; they do not speak Deep. ``Health``
puts grpcio-health-checking's asyncio servicer on the ``grpc.aio`` server and
sets the status of the whole server (the service ``""``) and of the two Deep
services it serves together: all are serving or none is, since one loop runs
them all. A service it does not know is ``NOT_FOUND``, as the protocol says.

Its coroutines run on the server's event loop, where the servicer's ``Watch``
streams wait on conditions of that loop.
"""

from __future__ import annotations

from typing import Any, Final

from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio

__all__ = ["SERVICES", "Health"]

SERVICES: Final = (
    "",
    "deepproto.proto.poll.v1.PollConfig",
    "deepproto.proto.tracepoint.v1.SnapshotService",
)
"""The services whose health is told: the whole server, then each Deep service."""


class Health:
    """The health service of one server: ``add_to`` it, then ``serving()`` once started.

    Until ``serving()`` only the whole server has a status, SERVING, the
    servicer's own default (it answers, so it serves); the Deep services are
    NOT_FOUND until then.
    """

    def __init__(self) -> None:
        self._servicer: Any = aio.HealthServicer()

    def add_to(self, server: Any) -> None:
        """Serve ``grpc.health.v1.Health`` on ``server``, a ``grpc.aio`` server not yet started."""
        health_pb2_grpc.add_HealthServicer_to_server(self._servicer, server)

    async def serving(self) -> None:
        """Tell every service is SERVING; call on the server's loop."""
        await self._set(health_pb2.HealthCheckResponse.SERVING)

    async def not_serving(self, *, for_good: bool = False) -> None:
        """Tell every service is NOT_SERVING; call on the server's loop.

        ``for_good`` is for a server that is stopping: later ``serving()`` calls
        change nothing (the servicer's graceful shutdown).
        """
        if for_good:
            await self._servicer.enter_graceful_shutdown()
        else:
            await self._set(health_pb2.HealthCheckResponse.NOT_SERVING)

    async def _set(self, status: Any) -> None:
        for service in SERVICES:
            await self._servicer.set(service, status)
