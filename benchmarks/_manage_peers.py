"""The processes of ``benchmarks/management.py``: a server with its HTTP API, a watcher, a crowd.

Each runs in its own process (``multiprocessing``, spawn) so that the server under
test does not share a GIL with its clients, and answers commands on a ``Connection``.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import tracemalloc
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import grpc
from deepproto.proto.common.v1 import common_pb2
from deepproto.proto.poll.v1 import poll_pb2
from deepproto.proto.resource.v1 import resource_pb2

from _peers import POLL_METHOD, config
from confighub import ConfigChange, ConfigHub
from confighub.model import TracePoint
from confighub.server import HubServer, MemoryStore
from confighub.sources import GrpcPollSource
from confighub.stores import SqliteStore


def serve(size: int, observed: bool, sqlite: bool, conn: Connection) -> None:
    """Serve ``size`` tracepoints over gRPC and HTTP; change one on "change" (the reference).

    ``observed`` turns the fleet view and the metrics on; off, polls are only answered.
    ``sqlite`` serves from a ``SqliteStore`` in a temporary folder (``serve``'s default
    store), else from a ``MemoryStore``.
    """
    with tempfile.TemporaryDirectory() as folder:
        store: MemoryStore | SqliteStore
        if sqlite:
            store = SqliteStore(Path(folder) / "hub.db")
            store.set(config(size))
        else:
            store = MemoryStore(config(size))
        try:
            _serve(store, observed, conn)
        finally:
            if isinstance(store, SqliteStore):
                store.close()


def _serve(store: MemoryStore | SqliteStore, observed: bool, conn: Connection) -> None:
    with HubServer(
        store, http_port=0, max_hold=120, track_agents=observed, metrics=observed
    ) as server:
        conn.send((server.port, server.http_url))
        version = 0
        while True:
            command = conn.recv()
            if command == "change":
                version += 1
                changed = time.time_ns()
                state = store.replace(TracePoint("tp-0", "app/module_0.py", 1 + version))
                conn.send((changed, state.hash))
            elif command == "hash":
                conn.send(store.hash)
            else:
                return


def serve_traced(observed: bool, conn: Connection) -> None:
    """Serve 10 tracepoints with tracemalloc on; on "memory" send the bytes traced now."""
    tracemalloc.start()
    with HubServer(
        MemoryStore(config(10)), max_hold=120, track_agents=observed, metrics=observed
    ) as server:
        conn.send(server.port)
        while conn.recv() == "memory":
            conn.send(tracemalloc.get_traced_memory()[0])


def watch(target: str, conn: Connection) -> None:
    """Long-poll ``target`` into a hub; send ``(new_hash, received ns)`` for each change."""

    def received(change: ConfigChange) -> None:
        conn.send((change.new_hash, time.time_ns()))

    with ConfigHub() as hub:
        hub.changes.subscribe(received)
        with GrpcPollSource(target, hub, hold=30):
            conn.recv()


def agents_crowd(target: str, agents: int, conn: Connection) -> None:
    """Poll once as each of ``agents`` agents (each its own resource), then say done."""

    async def crowd() -> None:
        channels = [grpc.aio.insecure_channel(target) for _ in range(8)]
        calls = [
            channel.unary_unary(
                POLL_METHOD, request_serializer=poll_pb2.PollRequest.SerializeToString
            )
            for channel in channels
        ]
        limit = asyncio.Semaphore(64)

        async def one(n: int) -> Any:
            resource = resource_pb2.Resource(
                attributes=[
                    common_pb2.KeyValue(
                        key="service.instance.id",
                        value=common_pb2.AnyValue(string_value=f"checkout-{n:05d}"),
                    ),
                    common_pb2.KeyValue(
                        key="service.name", value=common_pb2.AnyValue(string_value="checkout")
                    ),
                ]
            )
            async with limit:
                return await calls[n % len(calls)](
                    poll_pb2.PollRequest(resource=resource), timeout=60
                )

        try:
            await asyncio.gather(*(one(n) for n in range(agents)))
        finally:
            for channel in channels:
                await channel.close()

    asyncio.run(crowd())
    conn.send("done")
    conn.recv()
