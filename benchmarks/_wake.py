"""Held polls woken by one change of a large config: ``HubServer`` vs a bare servicer.

``held_polls_line(quick)`` holds 200 polls (50 with ``quick``) on a server process
serving 10,000 tracepoints, from a crowd in another process (each of its channels
got the config first, as clients do), then changes one tracepoint. The change is
``store.add`` of that one tracepoint, built fresh (the others stay the objects they
were, as ``FileStore`` keeps them), and, on the same line, ``store.set`` of the
whole config built fresh (every tracepoint a new object, which the store digests
anew); either is built before the clock starts. It measures the server process's
CPU time (``time.process_time``: every thread of it) from the
store change until every client has the new config, and the wall time until then.
The reference is a bare ``grpc.aio`` servicer that holds the same polls and answers
them with the bytes of the same response, prepared in advance.

Run: ``.venv/bin/python benchmarks/_wake.py [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import grpc
from deepproto.proto.poll.v1 import poll_pb2

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _peers
from confighub import config_hash
from confighub.server import HOLD_METADATA_KEY, HubServer, MemoryStore

SIZE = 10_000


def _answer(version: int) -> bytes:
    """The UPDATE a client of ``version``'s config gets, serialized as the servicer sends it."""
    tracepoints = _peers.config(SIZE, version)
    body: bytes = poll_pb2.PollResponse(
        ts_nanos=time.time_ns(),
        current_hash=config_hash(tracepoints),
        response=[tp.to_proto() for tp in tracepoints],
        response_type=poll_pb2.UPDATE,
    ).SerializeToString()
    return body


class _Bare:
    """Holds every poll until ``change()``, then answers each with one prepared body."""

    def __init__(self) -> None:
        self.held = 0
        self.first = self.body = b""
        self.changed: asyncio.Future[None] | None = None

    async def poll(self, body: bytes, context: Any) -> bytes:
        assert self.changed is not None
        if not body:  # no current_hash yet: the config as it is
            return self.first
        self.held += 1
        await self.changed
        return self.body


def _serve_bare(clients: int, conn: Connection) -> None:
    bare = _Bare()
    ready, stop = threading.Event(), threading.Event()
    box: list[Any] = []

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        bare.changed = loop.create_future()
        server = grpc.aio.server()
        handler = grpc.unary_unary_rpc_method_handler(bare.poll, response_serializer=bytes)
        server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    "deepproto.proto.poll.v1.PollConfig", {"poll": handler}
                ),
            )
        )
        box.extend((server.add_insecure_port("127.0.0.1:0"), loop))
        await server.start()
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.05)
        await server.stop(None)

    thread = threading.Thread(target=serve_in, args=(serve, ready))
    thread.start()
    ready.wait()
    port, loop = box
    bare.first, bare.body = _answer(0), _answer(1)
    conn.send((port, config_hash(_peers.config(SIZE))))
    _commands(conn, lambda: bare.held, lambda: _wake_bare(loop, bare))
    stop.set()
    thread.join()


def serve_in(serve: Any, ready: threading.Event) -> None:
    try:
        asyncio.run(serve())
    finally:
        ready.set()


def _wake_bare(loop: Any, bare: _Bare) -> None:
    def wake() -> None:
        assert bare.changed is not None
        bare.changed.set_result(None)

    loop.call_soon_threadsafe(wake)


def _serve_hub(clients: int, whole: bool, conn: Connection) -> None:
    store = MemoryStore(_peers.config(SIZE))
    with HubServer(store, max_hold=120) as server:
        conn.send((server.port, store.state.hash))
        # The same config either way: _peers.config(SIZE, 1) differs in its first tracepoint.
        fresh = _peers.config(SIZE, 1)
        if whole:
            _commands(conn, lambda: server.stats().held, lambda: store.set(fresh))
        else:
            _commands(conn, lambda: server.stats().held, lambda: store.add(fresh[0]))


def _serve_bare_too(clients: int, whole: bool, conn: Connection) -> None:
    _serve_bare(clients, conn)


def _commands(conn: Connection, held: Any, change: Any) -> None:
    """Answer "held" with the polls held, "change" by changing, "cpu" with CPU seconds since."""
    start = setting = 0.0
    while True:
        command = conn.recv()
        if command == "held":
            conn.send(held())
        elif command == "change":
            start = time.process_time()
            conn.send(time.time_ns())
            began = time.thread_time()
            change()
            setting = time.thread_time() - began
        elif command == "cpu":
            conn.send((time.process_time() - start, setting))
        else:
            return


def _crowd(target: str, clients: int, current_hash: str, conn: Connection) -> None:
    """Hold ``clients`` polls; send (last answer's ns, every answer's size) once all are in."""

    async def crowd() -> list[tuple[int, int]]:
        channels = [grpc.aio.insecure_channel(target) for _ in range(max(1, clients // 50))]
        request = poll_pb2.PollRequest(current_hash=current_hash).SerializeToString()
        metadata = ((HOLD_METADATA_KEY, "100"),)
        # Raw bytes: the figure is the server's, not the crowd's parsing of 200 big answers.
        calls = [channel.unary_unary(_peers.POLL_METHOD) for channel in channels]

        async def one(n: int) -> tuple[int, int]:
            answer = await calls[n % len(calls)](request, metadata=metadata, timeout=150)
            return time.time_ns(), len(answer)

        try:
            # Each channel first gets the config, as a client does before it holds a poll.
            await asyncio.gather(*(call(b"", timeout=150) for call in calls))
            return list(await asyncio.gather(*(one(n) for n in range(clients))))
        finally:
            for channel in channels:
                await channel.close()

    conn.send(asyncio.run(crowd()))


def _run(kind: str, clients: int, whole: bool = False) -> tuple[float, float, float]:
    """CPU ms of the server process, wall ms, from the change until all are answered.

    The change is ``store.add`` of the one changed tracepoint, built fresh, or with
    ``whole`` ``store.set`` of the whole config built fresh (which digests every
    tracepoint of it). The third figure is the CPU ms of that call itself, on the
    thread that made it.
    """
    import wire  # noqa: PLC0415  (wire imports _peers the same way; late, to stay a leaf)

    target = _serve_hub if kind == "hub" else _serve_bare_too
    with wire.process(target, clients, whole) as conn:
        port, current = conn.recv()
        with wire.process(_crowd, f"127.0.0.1:{port}", clients, current) as crowd:
            while True:
                conn.send("held")
                if conn.recv() >= clients:
                    break
                time.sleep(0.05)
            time.sleep(0.2)  # let the server settle: the CPU counted is the change's
            conn.send("change")
            changed = conn.recv()
            answers = crowd.recv()
            conn.send("cpu")
            cpu, setting = conn.recv()
    sizes = {size for _, size in answers}
    assert min(sizes) > 100_000, f"an answer was not the new config: {sorted(sizes)}"
    wall = (max(at for at, _ in answers) - changed) / 1e6
    return cpu * 1000, wall, setting * 1000


def _best(runs: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    cpu, wall, setting = (min(figures) for figures in zip(*runs, strict=True))
    return cpu, wall, setting


def held_polls_line(quick: bool) -> str:
    """One line: HubServer vs bare servicer, CPU and wall, held polls woken by one change."""
    clients = 50 if quick else 200
    rounds = 1 if quick else 3
    # The best of a few rounds each: the machine is shared, and noise only adds time.
    hub = _best([_run("hub", clients) for _ in range(rounds)])
    whole = _best([_run("hub", clients, whole=True) for _ in range(rounds)])
    bare = _best([_run("bare", clients) for _ in range(rounds)])
    return (
        f"{clients} held polls woken by one change of {SIZE:,} tracepoints:  HubServer CPU"
        f" {hub[0]:.0f} ms, wall {hub[1]:.0f} ms  vs  bare servicer CPU {bare[0]:.0f} ms,"
        f" wall {bare[1]:.0f} ms  ratio CPU {hub[0] / bare[0]:.2f}, wall {hub[1] / bare[1]:.2f}"
        "  (target <= 1.5);  the whole config set afresh: CPU"
        f" {whole[0]:.0f} ms ({whole[2]:.0f} ms in store.set, digesting it), wall"
        f" {whole[1]:.0f} ms  ratio CPU {whole[0] / bare[0]:.2f}, wall {whole[1] / bare[1]:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 held polls, one round")
    print(held_polls_line(parser.parse_args().quick))


if __name__ == "__main__":
    main()
