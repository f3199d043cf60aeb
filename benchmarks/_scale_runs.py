"""The runs of ``benchmarks/scale_out.py``: each starts its load, measures, returns its figures.

The servers, one process each (``_scale_peers.serve``), serve the same config; the
runs write to them through the HTTP API as a user does, the crowds of clients
(``_scale_peers``) polling them from processes of their own.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from multiprocessing.connection import Connection
from typing import Any, NamedTuple

import grpc
from deepproto.proto.poll.v1 import poll_pb2, poll_pb2_grpc

import _scale_peers
from management import connect
from wire import process

SIZE = 1_000
REPLICAS = 3
EDITED = 1
"""The tracepoint each write moves: ``tp-1`` has no targeting, so every client's view holds it."""
SETTLE = 0.1
"""Seconds the servers rest once every poll is held, so that a write is all they then do."""


class Server(NamedTuple):
    """A server process: its connection, its gRPC target and its HTTP URL."""

    conn: Connection
    target: str
    url: str

    def ask(self, command: str) -> Any:
        """Send ``command`` (see ``_scale_peers.serve``) and return the answer."""
        self.conn.send(command)
        return self.conn.recv()


class PollRun(NamedTuple):
    """One throughput run: polls/s, CPU seconds of the servers and of the clients, wall seconds."""

    rate: float
    servers_cpu: float
    clients_cpu: float
    wall: float

    def cores(self, cpu: float) -> float:
        """The cores that ``cpu`` seconds of CPU kept busy during the run."""
        return cpu / self.wall


class Writes(NamedTuple):
    """Sequential API writes: writes/s, CPU ms a write of each server (written to first), s."""

    rate: float
    cpu_ms: list[float]
    seconds: float


@contextmanager
def servers(stores: Sequence[str], size: int = SIZE) -> Iterator[list[Server]]:
    """A server process on each of ``stores`` (see ``_scale_peers.serve``), started together."""
    with ExitStack() as stack:
        conns = [stack.enter_context(process(_scale_peers.serve, store, size)) for store in stores]
        started = []
        for conn in conns:
            port, url = conn.recv()
            started.append(Server(conn, f"127.0.0.1:{port}", url))
        yield started


def view_hash(target: str) -> str:
    """The hash ``target`` serves a client without a resource; its view is built on the way."""
    with grpc.insecure_channel(target) as channel:
        stub = poll_pb2_grpc.PollConfigStub(channel)
        answer: str = stub.poll(poll_pb2.PollRequest(), timeout=30).current_hash
        return answer


def edit(line: int) -> str:
    """The body of a PUT of tracepoint ``EDITED`` moved to ``line``, its other fields kept."""
    tp = _scale_peers.config(EDITED + 1)[EDITED]
    return json.dumps({"tracepoint": dataclasses.replace(tp, line=line).to_json()})


def put(api: tuple[http.client.HTTPConnection, str], body: str) -> None:
    """PUT ``body`` as tracepoint ``EDITED`` through the API at ``api`` (connection, prefix)."""
    connection, prefix = api
    connection.request(
        "PUT", f"{prefix}/api/tracepoints/tp-{EDITED}", body, {"Content-Type": "application/json"}
    )
    answer = connection.getresponse()
    text = answer.read()
    if answer.status != 200:
        raise RuntimeError(f"PUT answered {answer.status}: {text[:300]!r}")


def redis_calls(commandstats: Mapping[str, Any]) -> Counter[str]:
    """Calls of each command in Redis's ``INFO commandstats``, INFO (ours) left out.

    Redis counts the commands its scripts call too, each under its own name.
    """
    return Counter(
        {
            name.removeprefix("cmdstat_"): int(figures["calls"])
            for name, figures in commandstats.items()
            if name != "cmdstat_info"
        }
    )


def wake_round(
    crowd: Connection,
    held: Sequence[tuple[Server, int]],
    api: tuple[http.client.HTTPConnection, str],
    body: str,
) -> tuple[list[tuple[int, float]], int]:
    """Hold the crowd's polls, write ``body`` through ``api``: (target, ms) of each, bytes."""
    crowd.send("hold")
    for server, count in held:
        while server.ask("held") < count:
            time.sleep(0.01)
    time.sleep(SETTLE)
    sent = time.time_ns()
    put(api, body)
    answers = crowd.recv()
    kinds = {kind for _, _, _, kind, _ in answers}
    hashes = {new_hash for _, _, new_hash, _, _ in answers}
    if kinds != {poll_pb2.UPDATE} or len(hashes) != 1:
        raise RuntimeError(f"a write was not answered with one new config: {kinds}, {hashes}")
    size = max(size for *_, size in answers)
    return [(index, (at - sent) / 1e6) for index, at, *_ in answers], size


def wake(
    replicas: list[Server], single: Server, clients: int, writes: int
) -> tuple[list[float], list[float], int]:
    """Ms from each write to each held poll (replicas but the writer's, single); answer bytes."""
    targets = [replica.target for replica in replicas]
    with (
        process(_scale_peers.hold_crowd, targets, clients) as spread_crowd,
        process(_scale_peers.hold_crowd, [single.target], clients) as single_crowd,
    ):
        served = spread_crowd.recv()
        if len(set(served)) != 1:
            raise RuntimeError(f"the replicas serve different configs: {served}")
        single_crowd.recv()
        apis = [connect(replica.url) for replica in replicas]
        single_api = connect(single.url)
        spread = list(zip(replicas, _scale_peers.spread(clients, len(replicas)), strict=True))
        ours: list[float] = []
        theirs: list[float] = []
        for version in range(writes):
            # Alternate the two, so that both see the same machine at the same time.
            body = edit(10_000 + version)
            writer = version % len(replicas)
            answered, size = wake_round(spread_crowd, spread, apis[writer], body)
            ours += [ms for index, ms in answered if index != writer]
            answered, _ = wake_round(single_crowd, [(single, clients)], single_api, body)
            theirs += [ms for _, ms in answered]
        for connection, _ in [*apis, single_api]:
            connection.close()
    return ours, theirs, size


def write_rates(
    replicas: list[Server],
    sqlite: Server,
    writes: int,
    rounds: int,
    commands: Callable[[], Counter[str]],
) -> tuple[Writes, Writes, Counter[str]]:
    """Sequential API writes to the first replica and to ``sqlite``; Redis's commands meanwhile.

    ``commands()`` is what Redis has run so far (``redis_calls``).
    """
    bodies = [edit(20_000 + n) for n in range(writes)]
    kinds = {"redis": replicas, "sqlite": [sqlite]}
    apis = {name: connect(written[0].url) for name, written in kinds.items()}
    took = dict.fromkeys(kinds, 0.0)
    cpu = {name: [0.0] * len(written) for name, written in kinds.items()}
    calls: Counter[str] = Counter()
    for _ in range(rounds):
        for name, written in kinds.items():  # interleaved rounds, as for the wake
            before, cpu_before = commands(), [server.ask("cpu") for server in written]
            start = time.perf_counter()
            for body in bodies:
                put(apis[name], body)
            took[name] += time.perf_counter() - start
            for n, server in enumerate(written):
                cpu[name][n] += server.ask("cpu") - cpu_before[n]
            if name == "redis":
                calls += commands() - before
    for connection, _ in apis.values():
        connection.close()
    done = writes * rounds
    redis_run, sqlite_run = (
        Writes(done / took[name], [seconds / done * 1e3 for seconds in cpu[name]], took[name])
        for name in kinds
    )
    return redis_run, sqlite_run, calls


def poll_rates(
    replicas: list[Server], processes: int, clients: int, seconds: float, rounds: int
) -> tuple[PollRun, PollRun]:
    """The best NO_CHANGE throughput of the same crowd over every replica, and against one."""
    current = view_hash(replicas[0].target)
    best: dict[int, PollRun] = {}
    with ExitStack() as stack:
        crowds = [
            stack.enter_context(process(_scale_peers.poll_crowd, clients, seconds, current))
            for _ in range(processes)
        ]
        for crowd in crowds:
            crowd.recv()  # started: the runs of all begin together
        for _ in range(rounds):
            for count in (len(replicas), 1):
                targets = [replica.target for replica in replicas[:count]]
                before = [replica.ask("cpu") for replica in replicas]
                start = time.monotonic()
                for n, crowd in enumerate(crowds):
                    # Thread t of crowd n polls targets[(n * clients + t) % count]: all even.
                    shift = n * clients % count
                    crowd.send(targets[shift:] + targets[:shift])
                answers = [crowd.recv() for crowd in crowds]
                wall = time.monotonic() - start
                after = [replica.ask("cpu") for replica in replicas]
                run = PollRun(
                    sum(rate for rate, _ in answers),
                    sum(after) - sum(before),
                    sum(cpu for _, cpu in answers),
                    wall,
                )
                if count not in best or run.rate > best[count].rate:
                    best[count] = run
    return best[len(replicas)], best[1]
