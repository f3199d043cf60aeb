"""The processes of ``benchmarks/scale_out.py``: a server on a store, crowds holding and polling.

Each runs in its own process (``multiprocessing``, spawn) so that the servers under
test share a GIL neither with each other nor with their clients, and answers
commands on a ``Connection``.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

import grpc
from deepproto.proto.poll.v1 import poll_pb2

from _peers import POLL_METHOD, memory
from confighub import TracePoint
from confighub.server import HOLD_METADATA_KEY, HubServer
from confighub.stores import MemoryStore, RedisStore, SqliteStore
from large_config import versions
from wire import no_change_poller, polls_per_second

NAMESPACE = "scale-out"
"""The namespace of the replicas' config in Redis."""

_PER_CHANNEL = 100
"""Held polls a crowd multiplexes on one channel (HTTP/2 connection)."""


def config(size: int) -> tuple[TracePoint, ...]:
    """``size`` tracepoints with what operators give real ones (``large_config.enriched``)."""
    return next(versions(size, 1))


def serve(store: str, size: int, conn: Connection) -> None:
    """Serve ``size`` tracepoints over gRPC and HTTP from ``store``: "memory", "sqlite" or a URL.

    A ``redis://`` URL is a ``RedisStore`` given the config as its seed, as every
    replica of ``confighub serve --seed`` is: the first to find Redis empty writes
    it, and each reads it back from Redis. "sqlite" is a ``SqliteStore`` in a
    temporary folder, set to the config. Answers "held" with the polls held now,
    "cpu" with the process's CPU seconds so far and "rss" with its resident bytes.
    """
    with tempfile.TemporaryDirectory() as folder:
        opened: MemoryStore | SqliteStore | RedisStore
        if store == "memory":
            opened = MemoryStore(config(size))
        elif store == "sqlite":
            opened = SqliteStore(Path(folder) / "hub.db")
            opened.set(config(size))
        else:
            # A namespace of each size: replicas of two sizes may share the one Redis.
            opened = RedisStore(store, namespace=f"{NAMESPACE}-{size}", seed=config(size))
        try:
            with HubServer(opened, http_port=0, max_hold=120) as server:
                conn.send((server.port, server.http_url))
                while True:
                    command = conn.recv()
                    if command == "held":
                        conn.send(server.stats().held)
                    elif command == "cpu":
                        conn.send(time.process_time())
                    elif command == "rss":
                        conn.send(memory()[0])
                    else:
                        return
        finally:
            if not isinstance(opened, MemoryStore):
                opened.close()


def spread(clients: int, servers: int) -> list[int]:
    """How many of ``clients`` polls go to each of ``servers``: poll ``n`` to ``n % servers``."""
    return [len(range(index, clients, servers)) for index in range(servers)]


def hold_crowd(targets: list[str], clients: int, conn: Connection) -> None:
    """Hold ``clients`` polls spread over ``targets``, once on each "hold" command.

    Each channel first gets the config, as a client does before it holds a poll; the
    crowd sends the hash each target served. On "hold" every poll is held with its
    target's hash; once all are answered the crowd sends ``(target index, ns
    answered, hash, response type, bytes)`` of each, and holds the new hash the next
    time.
    The answers are parsed after the last one arrived: the times are the server's
    and the wire's, not the crowd's parsing of a thousand large answers.
    """

    async def crowd() -> None:
        serialize = poll_pb2.PollRequest.SerializeToString
        counts = spread(clients, len(targets))
        channels = [
            [grpc.aio.insecure_channel(target) for _ in range(max(1, -(-count // _PER_CHANNEL)))]
            for target, count in zip(targets, counts, strict=True)
        ]
        calls = [
            [channel.unary_unary(POLL_METHOD, request_serializer=serialize) for channel in group]
            for group in channels
        ]
        metadata = ((HOLD_METADATA_KEY, "100"),)

        async def one(n: int, current: str) -> tuple[int, int, bytes]:
            index = n % len(targets)
            group = calls[index]
            request = poll_pb2.PollRequest(current_hash=current)
            answer = await group[n // len(targets) % len(group)](
                request, metadata=metadata, timeout=150
            )
            return index, time.time_ns(), answer

        try:
            firsts = [
                await asyncio.gather(*(call(poll_pb2.PollRequest(), timeout=60) for call in group))
                for group in calls
            ]
            hashes = [poll_pb2.PollResponse.FromString(group[0]).current_hash for group in firsts]
            conn.send(hashes)
            while await asyncio.to_thread(conn.recv) == "hold":
                answered = await asyncio.gather(
                    *(one(n, hashes[n % len(targets)]) for n in range(clients))
                )
                results = []
                for index, at, raw in answered:
                    response = poll_pb2.PollResponse.FromString(raw)
                    hashes[index] = response.current_hash
                    results.append(
                        (index, at, response.current_hash, response.response_type, len(raw))
                    )
                del answered
                conn.send(results)
        finally:
            for group in channels:
                for channel in group:
                    await channel.close()

    asyncio.run(crowd())


def poll_crowd(clients: int, seconds: float, current_hash: str, conn: Connection) -> None:
    """For each list of targets received, poll NO_CHANGE from ``clients`` threads for ``seconds``.

    It says "started" first. Thread ``n`` polls ``targets[n % len(targets)]`` with its
    own channel; the crowd sends back ``(polls answered per second, CPU seconds it used)``.
    """
    poller = no_change_poller(current_hash)
    conn.send("started")
    for targets in iter(conn.recv, "stop"):
        start = time.process_time()
        rate = polls_per_second(targets, clients, seconds, poller)
        conn.send((rate, time.process_time() - start))
