"""The parts of a ``HubServer`` on its event loop, started together and stopped together.

``Serving.run`` attaches a store that runs on the loop (``LoopStore``: it connects
and loads before anything serves), starts the ``grpc.aio`` server (the Deep services
and the health service), then the HTTP API if there is one, then the telemetry; it
tells the caller the port once all serve, and on the stop request it stops them the
other way round. Nothing is left half started: when the HTTP API cannot bind, the gRPC
server goes too, and with it the grpc.aio runtime and its poller thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import grpc

from confighub.exceptions import ServeFailed, StoreError
from confighub.server._http import HttpApi
from confighub.server._listener import bind_failure, join
from confighub.server._poll_service import PollService
from confighub.server._telemetry import Telemetry
from confighub.server._tenants import Tenants
from confighub.stores import LoopStore, Store

__all__ = ["Serving"]


class Serving:
    """Runs the parts of one server on the running loop; see the module docstring."""

    def __init__(
        self,
        *,
        store: Store,
        host: str,
        port: int,
        credentials: Any,
        options: Sequence[tuple[str, Any]],
        tenants: Tenants,
        service: PollService,
        http: HttpApi | None,
        telemetry: Telemetry,
    ) -> None:
        self._store = store
        self._host, self._port = host, port
        self._credentials = credentials
        self._options = list(options)
        self._tenants = tenants
        self._service = service
        self._http = http
        self._telemetry = telemetry
        self.grace: float | None = 1.0
        """Seconds calls still running at the stop request get; set before asking to stop."""

    async def run(self, serving: Callable[[int, asyncio.Event], None]) -> None:
        """Serve until the event given to ``serving(port, stop)`` is set; ``ServeFailed`` if not.

        ``serving`` is called once every part serves, with the gRPC port bound.
        """
        address = join(self._host, self._port)
        store = self._store
        attached: LoopStore | None = None
        if isinstance(store, LoopStore):
            try:
                if await store.attach():
                    attached = store
            except StoreError as err:
                raise ServeFailed(address, str(err)) from None
        try:
            await self._serve(address, serving)
        finally:
            if attached is not None:
                await attached.detach()

    async def _serve(self, address: str, serving: Callable[[int, asyncio.Event], None]) -> None:
        loop = asyncio.get_running_loop()
        server: Any = None
        try:
            server = grpc.aio.server(options=self._options)
            server.add_generic_rpc_handlers(self._service.handlers())
            self._telemetry.add_to(server)
            port = self._add_port(server, address)
            await server.start()
        except Exception as err:
            # The grpc.aio runtime (and its poller thread) lives as long as the server
            # object: drop it here, not when the caller lets go of a traceback.
            server = None
            raise (
                err if isinstance(err, ServeFailed) else ServeFailed(address, str(err))
            ) from None
        self._tenants.open(loop, self._telemetry.on_change)
        self._service.open(loop)
        http = self._http
        try:
            if http is not None:
                await http.start()
        except ServeFailed:
            self._service.close()
            await server.stop(None)
            server = None
            raise
        stop = asyncio.Event()
        await self._telemetry.start(loop)
        serving(port, stop)
        try:
            await stop.wait()
        finally:
            await self._telemetry.stop()
            try:
                if http is not None:  # first: a write it finishes still wakes held polls
                    await http.stop(self.grace)
            finally:
                self._service.close()
                await server.stop(self.grace)
                server = None

    def _add_port(self, server: Any, address: str) -> int:
        try:
            if self._credentials is None:
                port: int = server.add_insecure_port(address)
            else:
                port = server.add_secure_port(address, self._credentials)
        except RuntimeError as err:
            port, said = 0, str(err)
        else:
            said = "no port was bound"
        if not port:
            # gRPC's own words only point at its debug log; the operating system says why.
            raise ServeFailed(address, bind_failure(self._host, self._port) or said)
        return port
