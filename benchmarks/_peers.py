"""The processes of ``benchmarks/wire.py``: a server, a watcher, a crowd of held polls.

Each runs in its own process (``multiprocessing``, spawn) so that the server
under test does not share a GIL with its clients, and answers commands on a
``Connection``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import grpc
from deepproto.proto.poll.v1 import poll_pb2, poll_pb2_grpc

from confighub import ConfigChange, ConfigHub, TracePoint, config_hash
from confighub.server import HOLD_METADATA_KEY, HubServer, MemoryStore
from confighub.sources import GrpcPollSource

POLL_METHOD = "/deepproto.proto.poll.v1.PollConfig/poll"


def config(size: int, version: int = 0) -> tuple[TracePoint, ...]:
    """``size`` tracepoints; ``version`` changes the first one's line."""
    return tuple(
        TracePoint(f"tp-{n}", f"app/module_{n % 97}.py", n + 1 + (version if n == 0 else 0))
        for n in range(size)
    )


def memory() -> tuple[int, int]:
    """(resident set size in bytes, thread count) of this process, from /proc."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["Threads"])


class _ConstantNoChange(poll_pb2_grpc.PollConfigServicer):  # type: ignore[misc]
    """The reference: a bare deep-proto servicer that always answers NO_CHANGE."""

    async def poll(self, request: Any, context: Any) -> Any:
        return poll_pb2.PollResponse(
            ts_nanos=time.time_ns(), current_hash=request.current_hash, response_type=0
        )


def _bare_server(ready: threading.Event, port: list[int], stop: threading.Event) -> None:
    async def serve() -> None:
        server = grpc.aio.server()
        poll_pb2_grpc.add_PollConfigServicer_to_server(_ConstantNoChange(), server)
        port.append(server.add_insecure_port("127.0.0.1:0"))
        await server.start()
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.05)
        await server.stop(None)

    asyncio.run(serve())


def serve(kind: str, size: int, conn: Connection) -> None:
    """Serve ``size`` tracepoints with a ``HubServer`` (kind "hub") or the bare reference."""
    if kind == "bare":
        ready, stop = threading.Event(), threading.Event()
        port: list[int] = []
        thread = threading.Thread(target=_bare_server, args=(ready, port, stop))
        thread.start()
        ready.wait()
        conn.send(port[0])
        conn.recv()
        stop.set()
        thread.join()
        return
    store = MemoryStore(config(size))
    with HubServer(store, max_hold=120) as server:
        conn.send(server.port)
        version = 0
        while True:
            command = conn.recv()
            if command == "change":
                version += 1
                tracepoints = config(size, version)
                digest = config_hash(tracepoints)
                changed = time.time_ns()
                store.set(tracepoints)
                conn.send((changed, digest))
            elif command == "stats":
                conn.send((server.stats(), *memory()))
            else:
                return


def watch(target: str, hold: float | None, conn: Connection) -> None:
    """Keep a hub current from ``target``; send ``(new_hash, received ns)`` for each change."""

    def received(change: ConfigChange) -> None:
        conn.send((change.new_hash, time.time_ns()))

    with ConfigHub() as hub:
        hub.changes.subscribe(received)
        with GrpcPollSource(target, hub, hold=hold, interval=1.0):
            conn.recv()


def hold_crowd(target: str, clients: int, current_hash: str, conn: Connection) -> None:
    """Hold ``clients`` polls at once; send the ns each was answered, once all are."""

    async def crowd() -> list[int]:
        channels = [grpc.aio.insecure_channel(target) for _ in range(max(1, clients // 100))]
        request = poll_pb2.PollRequest(current_hash=current_hash)
        metadata = ((HOLD_METADATA_KEY, "100"),)

        async def one(stub: Any) -> int:
            await stub.poll(request, metadata=metadata, timeout=150)
            return time.time_ns()

        stubs = [poll_pb2_grpc.PollConfigStub(channel) for channel in channels]
        try:
            return list(await asyncio.gather(*(one(stubs[n % len(stubs)]) for n in range(clients))))
        finally:
            for channel in channels:
                await channel.close()

    conn.send(asyncio.run(crowd()))
