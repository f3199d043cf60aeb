"""Scale-out benchmarks: replicas sharing one Redis, each figure side by side with its reference.

1. Wake latency: 1,000 long polls held over 3 replicas (each a ``HubServer`` on a
   ``RedisStore`` of the same Redis, in a process of its own), one API write
   (``PUT /api/tracepoints/{id}``) through one replica → each held poll on the other
   two answered with the new hash, p50 and p99 over several writes (each through the
   next replica), vs the same write to one server on a ``MemoryStore`` holding the
   same number of polls. The writes to the two alternate, so both see the same machine.
   Then again with a 10-tracepoint config: with 1,000 tracepoints the 1,000 answers of
   82 KiB are a herd that takes the machine its time to send, whatever the store.
2. Write throughput: sequential PUTs on one connection to a replica (the other two
   following) vs to a server on the ``SqliteStore`` that ``serve`` uses by default.
3. NO_CHANGE poll throughput: the same crowd of client processes spread over 3
   replicas vs against 1, and what limits it on this machine (its cores, and the CPU
   time the servers and the clients used).
4. For a capacity model: the Redis commands per write and per second during 1 and 2,
   and each server's memory (RSS) with the config.

The config is 1,000 tracepoints with args, watches, metrics and targeting, as
``large_config.py`` builds them; the replicas read it from Redis, and each write's
tracepoint is parsed from its JSON body. Redis is a ``redis-server`` of the run's own on
127.0.0.1 and a free port, saving nothing (``tests/support/redis_server.py``). The
servers and the crowds each run in a process of their own (``_scale_peers``), started
and measured by ``_scale_runs``. Run: ``.venv/bin/python benchmarks/scale_out.py
[--quick]``. Absolute times drift on a shared machine; the ratios are the figures to read.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The tests' redis-server (tests/support/redis_server.py): one way to start one, in one place.
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from tests.support.redis_server import RedisServer

from _scale_peers import NAMESPACE
from _scale_runs import (
    REPLICAS,
    SIZE,
    Server,
    Writes,
    poll_rates,
    redis_calls,
    servers,
    view_hash,
    wake,
    write_rates,
)
from wire import percentile

SMALL = 10
"""The config of the second wake figure, whose answers are small."""


def verdict(met: bool) -> str:
    return "met" if met else "missed"


def mib(size: float) -> str:
    return f"{size / 2**20:.1f}"


def wake_figure(
    replicas: list[Server], single: Server, clients: int, writes: int, tracepoints: int = SIZE
) -> None:
    ours, theirs, size = wake(replicas, single, clients, writes)
    o50, o99 = statistics.median(ours), percentile(ours, 0.99)
    t50, t99 = statistics.median(theirs), percentile(theirs, 0.99)
    print(
        f"{clients:,} held polls over {REPLICAS} replicas on one Redis, one API write of a"
        f" {tracepoints:,}-tracepoint config → each poll on the other replicas:  p50 {o50:.0f} ms,"
        f" p99 {o99:.0f} ms  vs  {clients:,} on 1 server with MemoryStore p50 {t50:.0f} ms,"
        f" p99 {t99:.0f} ms  → ratio p50 {o50 / t50:.2f}, p99 {o99 / t99:.2f}  ({writes} writes,"
        f" {len(ours):,} + {len(theirs):,} answers of {size / 1024:.0f} KiB; target p99 <= 50 ms:"
        f" {verdict(o99 <= 50)}, ratio <= 2: {verdict(o99 / t99 <= 2)})"
    )


def write_figure(
    replicas: list[Server],
    sqlite: Server,
    writes: int,
    rounds: int,
    commands: Callable[[], Counter[str]],
) -> tuple[Writes, Counter[str]]:
    on_redis, on_sqlite, calls = write_rates(replicas, sqlite, writes, rounds, commands)
    print(
        f"API writes, sequential PUTs on one connection, {SIZE:,}-tracepoint config:"
        f"  RedisStore (saving nothing) {on_redis.rate:,.0f} writes/s, CPU a write"
        f" {on_redis.cpu_ms[0]:.1f} ms in the replica written to and"
        f" {statistics.mean(on_redis.cpu_ms[1:]):.1f} ms in each of the {REPLICAS - 1} following"
        f"  vs  SqliteStore, synchronous=FULL {on_sqlite.rate:,.0f} writes/s, CPU"
        f" {on_sqlite.cpu_ms[0]:.1f} ms a write  → ratio {on_redis.rate / on_sqlite.rate:.2f}"
        f"  ({writes * rounds} writes each)"
    )
    return on_redis, calls


def poll_figure(
    replicas: list[Server], processes: int, clients: int, seconds: float, rounds: int
) -> None:
    spread, alone = poll_rates(replicas, processes, clients, seconds, rounds)
    ratio = spread.rate / alone.rate
    print(
        f"NO_CHANGE throughput, {processes} client processes of {clients} threads:"
        f"  {REPLICAS} replicas {spread.rate:,.0f} polls/s  vs  1 replica {alone.rate:,.0f}"
        f" polls/s  → ratio {ratio:.2f}  (target >= 2.5: {verdict(ratio >= 2.5)})"
    )
    cores = os.cpu_count() or 1
    # CPU a poll over the whole run, the clients' warm-up in it: a little high, the ceiling low.
    polls = spread.rate * seconds
    server_us, client_us = spread.servers_cpu / polls * 1e6, spread.clients_cpu / polls * 1e6
    ceiling = cores * 1e6 / (server_us + client_us)
    print(
        f"what limits poll throughput: {cores} cores (os.cpu_count()) for {REPLICAS} replicas,"
        f" {processes} client processes and Redis. Against 1 replica the servers kept"
        f" {alone.cores(alone.servers_cpu):.2f} cores busy (a replica's Python runs on one"
        f" event loop, under one GIL) and the clients {alone.cores(alone.clients_cpu):.2f};"
        f" over {REPLICAS}, {spread.cores(spread.servers_cpu):.2f} and"
        f" {spread.cores(spread.clients_cpu):.2f}. At {server_us:.0f} µs of server and"
        f" {client_us:.0f} µs of client CPU a poll, {cores} cores answer at most"
        f" {ceiling:,.0f} polls/s however many replicas: {ceiling / alone.rate:.1f}x one replica's"
    )


def capacity_figures(
    writes: tuple[Counter[str], int, float],
    waking: tuple[Counter[str], int, float],
    rss: list[int],
    redis_bytes: tuple[int, int, int, int],
) -> None:
    """Redis's commands in (calls, writes, seconds) of figures 2 and 1; the memory figures.

    ``redis_bytes``: Redis's memory empty, with the config, and at the end with a
    change log of so many entries.
    """
    calls, count, seconds = writes
    quiet, quiet_count, quiet_seconds = waking
    print(
        "Redis commands a write, the scripts' own included (for a capacity model):"
        f"  {calls.total() / count:.1f} in sequential writes ({breakdown(calls, count)}),"
        f" {calls.total() / seconds:,.0f} commands/s at {count / seconds:,.0f} writes/s;"
        f"  {quiet.total() / quiet_count:.1f} with a write every"
        f" {quiet_seconds / quiet_count:.1f} s (figure 1, the followers' quiet reads included),"
        f" {quiet.total() / quiet_seconds:,.0f} commands/s"
    )
    empty, used, logged, entries = redis_bytes
    print(
        f"memory (RSS) serving the {SIZE:,}-tracepoint config, no poll held:  each RedisStore"
        f" replica {' / '.join(mib(size) for size in rss[:REPLICAS])} MiB  vs  MemoryStore"
        f" server {mib(rss[REPLICAS])} MiB  → ratio"
        f" {statistics.mean(rss[:REPLICAS]) / rss[REPLICAS]:.2f};  SqliteStore server"
        f" {mib(rss[REPLICAS + 1])} MiB;  Redis used_memory {mib(used)} MiB ({mib(empty)} MiB"
        f" empty), {mib(logged)} MiB with a change log of {entries:,} entries"
        f" ({(logged - used) / (entries - 1):,.0f} bytes an entry)"
    )


def breakdown(calls: Counter[str], writes: int) -> str:
    return ", ".join(f"{name} {count / writes:.1f}" for name, count in calls.most_common())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    quick = parser.parse_args().quick
    clients = 100 if quick else 1_000
    writes = 3 if quick else 20
    puts, put_rounds = (20, 1) if quick else (200, 3)
    poll_clients, seconds, poll_rounds = (8, 0.5, 1) if quick else (16, 3.0, 2)

    with (
        tempfile.TemporaryDirectory(prefix="confighub-bench-") as tmp,
        RedisServer(Path(tmp) / "redis") as redis_server,
        redis_server.client() as client,
    ):

        def commands() -> Counter[str]:
            return redis_calls(client.info("commandstats"))

        empty = int(client.info("memory")["used_memory"])
        with servers([redis_server.url] * REPLICAS + ["memory", "sqlite"]) as started:
            replicas, (single, sqlite) = started[:REPLICAS], started[REPLICAS:]
            for server in started:
                view_hash(server.target)  # each builds its view, in its memory too
            rss = [server.ask("rss") for server in started]
            used = int(client.info("memory")["used_memory"])

            before, start = commands(), time.monotonic()
            wake_figure(replicas, single, clients, writes)
            waking = (commands() - before, writes, time.monotonic() - start)
            on_redis, calls = write_figure(replicas, sqlite, puts, put_rounds, commands)
            poll_figure(replicas, 2, poll_clients, seconds, poll_rounds)
            logged = int(client.info("memory")["used_memory"])
            entries = client.xlen(f"{{{NAMESPACE}-{SIZE}}}:log")  # the key _redis_scripts names
            capacity_figures(
                (calls, puts * put_rounds, on_redis.seconds),
                waking,
                rss,
                (empty, used, logged, entries),
            )
        # The same wake with a small config: 1,000 answers of 82 KiB above are a herd the
        # machine takes its time to send, whatever the store; here it is the store's path.
        with servers([redis_server.url] * REPLICAS + ["memory"], SMALL) as started:
            wake_figure(started[:REPLICAS], started[REPLICAS], clients, writes, SMALL)


if __name__ == "__main__":
    main()
