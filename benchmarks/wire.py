"""Wire benchmarks: the PollConfig client and server, each side by side with its reference.

1. Propagation: a change in the server's store → an observer in another process via
   ``GrpcPollSource`` with long poll, p50 and p99, vs the same client polling every 1 s
   without hold.
2. Server NO_CHANGE throughput with 16 concurrent clients vs a bare deep-proto servicer
   (grpc.aio) that returns a constant NO_CHANGE.
3. UPDATE of a 10,000-tracepoint config vs NO_CHANGE, per poll: the cached response.
4. Held long polls: 1,000 concurrent clients holding a poll on one server process, all
   woken by one change: p99 wake latency, server memory and threads per held poll.

The server, the watcher and the crowd of held polls each run in a process of their own.
Run: ``.venv/bin/python benchmarks/wire.py [--quick]``. Absolute times drift on a shared
machine; the ratios are the figures to read.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import grpc
from deepproto.proto.poll.v1 import poll_pb2, poll_pb2_grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _peers
from confighub import config_hash

_spawn = multiprocessing.get_context("spawn")


@contextmanager
def process(target: Callable[..., None], *args: Any) -> Iterator[Connection]:
    """Run ``target(*args, conn)`` in a new process; yield our end of ``conn``."""
    ours, theirs = _spawn.Pipe()
    child = _spawn.Process(target=target, args=(*args, theirs), daemon=True)
    child.start()
    try:
        yield ours
    finally:
        with suppress(OSError):  # the child may be gone already
            ours.send("stop")
        child.join(30)
        if child.is_alive():
            child.kill()


@contextmanager
def server(kind: str, size: int) -> Iterator[tuple[Connection, str]]:
    """A server process; yields its connection and its target."""
    with process(_peers.serve, kind, size) as conn:
        yield conn, f"127.0.0.1:{conn.recv()}"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def propagation(changes: int, hold: float | None, phase: float, gap: float = 0.0) -> list[float]:
    """Milliseconds from each store change to the watcher process's observer.

    Each change waits ``gap`` plus a random ``0..phase`` seconds first, so that it lands
    at a random point of the client's polling cycle, as a real edit does.
    """
    latencies: list[float] = []
    rng = random.Random(7)
    with server("hub", 10) as (conn, target), process(_peers.watch, target, hold) as watcher:
        watcher.recv()  # the first config
        time.sleep(0.2)  # let the first held poll reach the server
        for _ in range(changes):
            time.sleep(gap + rng.uniform(0, phase))
            conn.send("change")
            changed, digest = conn.recv()
            while True:
                new_hash, received = watcher.recv()
                if new_hash == digest:
                    break
            latencies.append((received - changed) / 1e6)
    return latencies


def polls_per_second(
    target: str | Sequence[str],
    clients: int,
    seconds: float,
    poller: Callable[[grpc.Channel], Callable[[], object]],
) -> float:
    """Polls per second that ``clients`` threads, each with its channel, get answered.

    ``poller(channel)`` makes the function one thread calls for each poll; its first
    call, before the clock starts, warms the channel. Given several targets, thread
    ``n`` polls ``target[n % len(target)]``.
    """
    targets = [target] if isinstance(target, str) else list(target)
    counts = [0] * clients
    start = threading.Barrier(clients + 1)

    def client(n: int) -> None:
        with grpc.insecure_channel(targets[n % len(targets)]) as channel:
            poll = poller(channel)
            poll()
            start.wait()
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                poll()
                counts[n] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    for thread in threads:
        thread.join()
    return sum(counts) / seconds


def no_change_poller(current_hash: str) -> Callable[[grpc.Channel], Callable[[], object]]:
    """A ``poller`` for ``polls_per_second``: polls holding ``current_hash``, NO_CHANGE asserted."""
    request = poll_pb2.PollRequest(current_hash=current_hash)

    def poller(channel: grpc.Channel) -> Callable[[], object]:
        stub = poll_pb2_grpc.PollConfigStub(channel)

        def poll() -> None:
            answer = stub.poll(request, timeout=30)
            assert answer.response_type == poll_pb2.NO_CHANGE

        return poll

    return poller


def throughput(kind: str, clients: int, seconds: float) -> float:
    """NO_CHANGE polls per second answered to ``clients`` threads, each with its channel."""
    poller = no_change_poller(config_hash(_peers.config(10)))
    with server(kind, 10) as (_, target):
        return polls_per_second(target, clients, seconds, poller)


def update_vs_no_change(polls: int) -> tuple[float, float, int, int]:
    """Per poll of 10,000 tracepoints: µs for UPDATE and NO_CHANGE; bytes; bodies serialized."""
    with server("hub", 10_000) as (conn, target), grpc.insecure_channel(target) as channel:
        # Raw bytes: the figure is the server's and the wire's, not the client's parsing.
        raw = channel.unary_unary(
            _peers.POLL_METHOD, request_serializer=poll_pb2.PollRequest.SerializeToString
        )
        current = config_hash(_peers.config(10_000))
        figures = []
        size = 0
        for current_hash in ("", current):
            request = poll_pb2.PollRequest(current_hash=current_hash)
            size = max(size, len(raw(request, timeout=30)))
            start = time.perf_counter_ns()
            for _ in range(polls):
                raw(request, timeout=30)
            figures.append((time.perf_counter_ns() - start) / polls / 1000)
        conn.send("stats")
        stats, _, _ = conn.recv()
    return figures[0], figures[1], size, stats.serializations


def held_polls(clients: int) -> tuple[list[float], float, int, int]:
    """Wake latencies (ms) of ``clients`` held polls, server bytes and threads per held poll."""
    current = config_hash(_peers.config(10))
    with server("hub", 10) as (conn, target):
        conn.send("stats")
        _, idle_rss, idle_threads = conn.recv()
        with process(_peers.hold_crowd, target, clients, current) as crowd:
            while True:
                conn.send("stats")
                stats, held_rss, held_threads = conn.recv()
                if stats.held >= clients:
                    break
                time.sleep(0.05)
            conn.send("change")
            changed, _ = conn.recv()
            answered = crowd.recv()
    wake = [(at - changed) / 1e6 for at in answered]
    return wake, (held_rss - idle_rss) / clients, idle_threads, held_threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    quick = parser.parse_args().quick
    long_changes, interval_changes = (20, 3) if quick else (200, 20)
    seconds = 0.5 if quick else 3.0
    polls = 20 if quick else 200
    crowd = 100 if quick else 1_000

    # Edits 50-70 ms apart: further apart than the 20 ms a long-polling client leaves
    # between polls while every answer brings a new config (a burst, measured below).
    held = propagation(long_changes, hold=30, phase=0.02, gap=0.05)
    burst = propagation(long_changes, hold=30, phase=0.02)
    plain = propagation(interval_changes, hold=None, phase=1.0)
    p50, p99 = statistics.median(held), percentile(held, 0.99)
    r50, r99 = statistics.median(plain), percentile(plain, 0.99)
    print(
        f"propagation, store → observer in another process:  long poll p50 {p50:.1f} ms,"
        f" p99 {p99:.1f} ms ({long_changes} changes)  vs  1 s interval p50 {r50:.0f} ms,"
        f" p99 {r99:.0f} ms ({interval_changes} changes)  → {r50 / p50:.0f}x lower p50"
        "  (target p50 <= 50 ms, >= 20x)"
    )
    print(
        f"propagation of a burst, changes 0-20 ms apart:  long poll p50"
        f" {statistics.median(burst):.1f} ms, p99 {percentile(burst, 0.99):.1f} ms"
        " (the client starts its polls at least 20 ms apart while every answer is new)"
    )

    ours = throughput("hub", 16, seconds)
    bare = throughput("bare", 16, seconds)
    print(
        f"NO_CHANGE throughput, 16 clients:  HubServer {ours:,.0f} polls/s  vs  bare deep-proto"
        f" servicer {bare:,.0f} polls/s  ratio {ours / bare:.2f}  (target >= 0.8)"
    )

    update, no_change, size, serialized = update_vs_no_change(polls)
    print(
        f"10,000 tracepoints per poll:  UPDATE {update:,.0f} µs ({size / 1024:,.0f} KiB)  vs"
        f"  NO_CHANGE {no_change:,.0f} µs  ratio {update / no_change:.1f};  bodies serialized"
        f" {serialized} times for {2 * (polls + 1)} polls (once per hash)"
    )

    wake, per_poll, idle_threads, held_threads = held_polls(crowd)
    print(
        f"{crowd:,} held long polls, one change:  wake p50 {statistics.median(wake):.0f} ms,"
        f" p99 {percentile(wake, 0.99):.0f} ms  (target p99 <= 200 ms);  server memory"
        f" {per_poll / 1024:.1f} KiB per held poll (target <= 50 KB);  server threads"
        f" {idle_threads} idle, {held_threads} holding"
    )


if __name__ == "__main__":
    main()
