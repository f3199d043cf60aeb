"""Management benchmarks: the HTTP API and the fleet view, each side by side with its reference.

1. An API write (``PUT /api/tracepoints/{id}``) → the change seen by a long-polling client
   in another process, p50 and p99, vs the same change written to the store in the
   server's process (the path every write ends on).
   Both with a ``MemoryStore`` and with the ``SqliteStore`` that ``serve`` uses by default.
2. ``GET /api/tracepoints`` of a 1,000-tracepoint config (JSON, and protobuf as Deep's
   Grafana datasource asks for it) vs the gRPC poll of the same config.
3. NO_CHANGE poll throughput, 16 clients, with the fleet view and the metrics on vs off.
4. Memory per tracked agent, 10,000 agents each polling once with its own resource:
   traced server memory with the fleet view on minus off, per agent.

The server, the watcher and the crowd each run in a process of their own. Run:
``.venv/bin/python benchmarks/management.py [--quick]``. Absolute times drift on a
shared machine; the ratios are the figures to read.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path

import grpc
from deepproto.proto.poll.v1 import poll_pb2

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _manage_peers
from _peers import POLL_METHOD
from wire import percentile, polls_per_second, process

SIZE = 1_000


@contextmanager
def server(
    size: int, observed: bool = True, sqlite: bool = False
) -> Iterator[tuple[Connection, str, str]]:
    """A server process; yields its connection, its gRPC target and its HTTP URL."""
    with process(_manage_peers.serve, size, observed, sqlite) as conn:
        port, url = conn.recv()
        yield conn, f"127.0.0.1:{port}", url


def connect(url: str) -> tuple[http.client.HTTPConnection, str]:
    """A kept-alive HTTP connection to ``url``, and the path prefix of its API."""
    parts = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30), parts.path


def api_writes(changes: int, sqlite: bool = False) -> tuple[list[float], list[float]]:
    """Milliseconds from each write to the watcher: (through the API, straight to the store)."""
    through_api: list[float] = []
    direct: list[float] = []
    with (
        server(SIZE, sqlite=sqlite) as (conn, target, url),
        process(_manage_peers.watch, target) as watcher,
    ):
        watcher.recv()  # the first config
        time.sleep(0.2)  # let the first held poll reach the server
        api, prefix = connect(url)
        for version in range(changes):
            # Alternate the two paths, so that both see the same machine at the same time.
            time.sleep(0.03)
            if version % 2:
                conn.send("change")
                sent, digest = conn.recv()
                into = direct
            else:
                body = json.dumps(
                    {"tracepoint": {"path": "app/module_0.py", "lineNumber": 10_000 + version}}
                )
                sent = time.time_ns()
                api.request(
                    "PUT",
                    f"{prefix}/api/tracepoints/tp-0",
                    body,
                    {"Content-Type": "application/json"},
                )
                answer = api.getresponse()
                answer.read()
                if answer.status != 200:
                    raise RuntimeError(f"PUT answered {answer.status}")
                digest = (answer.getheader("ETag") or "").strip('"')
                into = through_api
            while True:
                new_hash, received = watcher.recv()
                if new_hash == digest:
                    break
            into.append((received - sent) / 1e6)
        api.close()
    return through_api, direct


def get_vs_poll(requests: int) -> dict[str, float]:
    """µs per request for the whole config: GET as JSON, GET as protobuf, and the gRPC poll."""
    figures: dict[str, float] = {}
    with server(SIZE) as (_, target, url), grpc.insecure_channel(target) as channel:
        raw = channel.unary_unary(
            POLL_METHOD, request_serializer=poll_pb2.PollRequest.SerializeToString
        )
        api, prefix = connect(url)

        def get(accept: str) -> Callable[[], object]:
            def once() -> object:
                api.request("GET", f"{prefix}/api/tracepoints", headers={"Accept": accept})
                return api.getresponse().read()

            return once

        runs: dict[str, Callable[[], object]] = {
            "json": get("application/json"),
            "protobuf": get("application/protobuf"),
            "grpc": lambda: raw(poll_pb2.PollRequest(), timeout=30),
        }
        for run in runs.values():
            run()  # the first of each serializes the view
        for _ in range(3):  # interleaved rounds; the best of each
            for name, run in runs.items():
                start = time.perf_counter_ns()
                for _ in range(requests):
                    run()
                took = (time.perf_counter_ns() - start) / requests / 1000
                figures[name] = min(figures.get(name, took), took)
        api.close()
    return figures


def throughput(observed: bool, clients: int, seconds: float) -> float:
    """NO_CHANGE polls per second answered to ``clients`` threads, each with its channel."""
    with server(10, observed) as (conn, target, _):
        conn.send("hash")
        request = poll_pb2.PollRequest(current_hash=conn.recv())

        def poller(channel: grpc.Channel) -> Callable[[], object]:
            raw = channel.unary_unary(
                POLL_METHOD, request_serializer=poll_pb2.PollRequest.SerializeToString
            )
            return lambda: raw(request, timeout=30)

        return polls_per_second(target, clients, seconds, poller)


def traced_growth(observed: bool, agents: int) -> int:
    """Bytes the server's traced memory grew by while ``agents`` agents polled once each."""
    with process(_manage_peers.serve_traced, observed) as conn:
        target = f"127.0.0.1:{conn.recv()}"
        conn.send("memory")
        before: int = conn.recv()
        with process(_manage_peers.agents_crowd, target, agents) as crowd:
            crowd.recv()
            conn.send("memory")
            after: int = conn.recv()
        return after - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    quick = parser.parse_args().quick
    changes = 20 if quick else 200
    requests = 20 if quick else 200
    seconds = 0.5 if quick else 3.0
    agents = 1_000 if quick else 10_000

    for named, sqlite in (("MemoryStore", False), ("SqliteStore, synchronous=FULL", True)):
        api, direct = api_writes(changes, sqlite)
        a50, a99 = statistics.median(api), percentile(api, 0.99)
        d50, d99 = statistics.median(direct), percentile(direct, 0.99)
        print(
            f"API write → long-polling client in another process ({named}):  PUT p50"
            f" {a50:.1f} ms, p99 {a99:.1f} ms  vs  store write in the server p50 {d50:.1f} ms,"
            f" p99 {d99:.1f} ms  → ratio {a50 / d50:.2f}  ({len(api)} + {len(direct)} writes;"
            " target p50 <= 10 ms, p99 <= 50 ms)"
        )

    got = get_vs_poll(requests)
    print(
        f"whole config of {SIZE:,} tracepoints:  GET /api/tracepoints JSON {got['json']:,.0f} µs,"
        f" protobuf {got['protobuf']:,.0f} µs  vs  gRPC poll {got['grpc']:,.0f} µs"
        f"  → ratio {got['json'] / got['grpc']:.2f} JSON, {got['protobuf'] / got['grpc']:.2f}"
        " protobuf  (target <= 2)"
    )

    rounds = [(throughput(True, 16, seconds), throughput(False, 16, seconds)) for _ in range(2)]
    on, off = max(r[0] for r in rounds), max(r[1] for r in rounds)
    print(
        f"NO_CHANGE throughput, 16 clients:  fleet view and metrics on {on:,.0f} polls/s  vs"
        f"  off {off:,.0f} polls/s  → ratio {on / off:.2f}  (target >= 0.9)"
    )

    tracked = traced_growth(True, agents)
    untracked = traced_growth(False, agents)
    print(
        f"{agents:,} agents tracked:  {(tracked - untracked) / agents:,.0f} bytes per agent"
        f"  (server memory grew {tracked / 1024:,.0f} KiB with the fleet view,"
        f" {untracked / 1024:,.0f} KiB without)"
    )


if __name__ == "__main__":
    main()
