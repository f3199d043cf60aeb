"""Large-config benchmarks: a 10,000-tracepoint config, one tracepoint changed per poll.

Every figure is measured side by side with its reference in one run, on configs that
reach the client as a real one does: fresh from the wire, through ``GrpcPollSource``.

1. Client apply: ``GrpcPollSource.poll_once()`` of an UPDATE until the hub has published
   it, vs a raw ``PollConfigStub.poll`` of the same UPDATE (the response parsed). The
   server is a generic gRPC handler in this process that answers every poll with bytes
   prepared before the poll (so neither side pays for the server's serialization).
2. ``change.diff`` of a change the hub published after a poll, its first access (what a
   subscriber pays), vs building a dict of the config's ids.
3. A tape (a ``confighub.tapes.Recorder`` subscribed to the hub) of 1,000 changes polled
   through ``GrpcPollSource`` vs the config serialized once.
4. Memory (tracemalloc) of 100 consecutive polled configs held (``change.new`` of each)
   vs one config built from the wire.
5. The server's: 200 held polls woken by one change, from ``benchmarks/_wake.py``.

Run: ``.venv/bin/python benchmarks/large_config.py [--quick]``. Absolute times drift on a
shared machine; the ratios are the figures to read.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
from deepproto.proto.poll.v1 import poll_pb2, poll_pb2_grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _peers
import _wake
from confighub import ConfigChange, ConfigHub, MetricDefinition, TracePoint, config_hash
from confighub.sources import GrpcPollSource
from confighub.tapes import Recorder


def enriched(tp: TracePoint, n: int) -> TracePoint:
    """``tp`` with what operators give real tracepoints: args, some watches, metrics, targets."""
    args = {"fire_count": str(1 + n % 5), "fire_period": str(500 * (1 + n % 4))}
    if n % 3 == 0:
        args["condition"] = f"order.total > {100 + n % 50}"
    if n % 7 == 0:
        args |= {"snapshot": "no_collect", "log_msg": f"checkout {n}: {{order.id}}"}
    watches = ("order.id", f"user.tier_{n % 3}") if n % 4 == 0 else ()
    metrics = (
        (MetricDefinition(f"checkout_{n}", "COUNTER", [{"key": "region", "expression": "r"}]),)
        if n % 20 == 0
        else ()
    )
    targeting = {"service": f"svc-{n % 13}", "env": ["prod", "staging"]} if n % 10 == 0 else {}
    return dataclasses.replace(tp, args=args, watches=watches, metrics=metrics, targeting=targeting)


def versions(size: int, count: int) -> Iterator[tuple[TracePoint, ...]]:
    """``count`` configs of ``size`` tracepoints, each with one tracepoint changed from the last."""
    config = tuple(enriched(tp, n) for n, tp in enumerate(_peers.config(size)))
    yield config
    for step in range(1, count):
        at = step * 7919 % size
        edited = dataclasses.replace(
            config[at], args={**config[at].args, "condition": f"order.total > {1000 + step}"}
        )
        config = (*config[:at], edited, *config[at + 1 :])
        yield config


class Answers:
    """What the server answers to every poll: the bytes of one UPDATE, prepared in advance."""

    def __init__(self) -> None:
        self.answer = b""
        self._parts: dict[str, bytes] = {}

    def prepare(self, config: tuple[TracePoint, ...]) -> None:
        """Make ``config`` the next answer; serializes only tracepoints not seen before."""
        # A repeated field encodes as the concatenation of its elements' encodings, so
        # the answer is joined from one encoded PollResponse per tracepoint.
        parts = []
        for tp in config:
            key = f"{tp.id}\0{tp.digest.hex()}"
            part = self._parts.get(key)
            if part is None:
                part = poll_pb2.PollResponse(response=[tp.to_proto()]).SerializeToString()
                self._parts[key] = part
            parts.append(part)
        head = poll_pb2.PollResponse(
            ts_nanos=time.time_ns(), current_hash=config_hash(config), response_type=poll_pb2.UPDATE
        )
        self.answer = head.SerializeToString() + b"".join(parts)

    def poll(self, request: bytes, context: Any) -> bytes:
        """The handler of ``PollConfig/poll``: the prepared answer, whatever was asked."""
        return self.answer


@contextmanager
def serving(answers: Answers) -> Iterator[str]:
    """A gRPC server on 127.0.0.1 answering ``PollConfig/poll`` with ``answers``; its target."""
    server = grpc.server(futures.ThreadPoolExecutor(2))
    handler = grpc.unary_unary_rpc_method_handler(answers.poll)
    service, method = _peers.POLL_METHOD.strip("/").split("/")
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service, {method: handler}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(None).wait()


@contextmanager
def polling(
    target: str, *, keep: bool = True
) -> Iterator[tuple[ConfigHub, GrpcPollSource, list[ConfigChange]]]:
    """A hub, a source polling ``target`` into it (by ``poll_once``) and the changes published.

    Without ``keep``, the changes are not kept (the list stays empty): a tape's thousand
    configs would otherwise all stay in memory.
    """
    changes: list[ConfigChange] = []
    with ConfigHub() as hub:
        if keep:
            hub.changes.subscribe(changes.append)
        source = GrpcPollSource(target, hub, timeout=30)
        try:
            yield hub, source, changes
        finally:
            source.stop()


def apply_figures(size: int, steps: int) -> list[ConfigChange]:
    """Print the client apply figure; return the changes published, for the diff figure."""
    answers = Answers()
    ours, raw = [], []
    request = poll_pb2.PollRequest(current_hash="")
    configs = versions(size, steps + 1)
    with serving(answers) as target, polling(target) as (_, source, changes):
        channel = grpc.insecure_channel(target)
        stub = poll_pb2_grpc.PollConfigStub(channel)
        answers.prepare(next(configs))
        source.poll_once()  # the first config: every tracepoint is new
        stub.poll(request, timeout=30)
        for config in configs:
            answers.prepare(config)
            gc.collect()
            start = time.perf_counter()
            source.poll_once()
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            assert len(stub.poll(request, timeout=30).response) == size
            raw.append(time.perf_counter() - start)
        channel.close()
    mine, theirs = statistics.median(ours) * 1e3, statistics.median(raw) * 1e3
    print(
        f"client apply of an UPDATE of {size:,} tracepoints, one changed ({steps} polls):"
        f"  GrpcPollSource.poll_once until published {mine:.1f} ms  vs  raw stub poll, parsed"
        f" {theirs:.1f} ms  → ratio {mine / theirs:.2f}  (target <= 3)"
    )
    return changes[1:]


def diff_figure(changes: list[ConfigChange]) -> None:
    diffs, dicts = [], []
    for change in changes:
        start = time.perf_counter()
        diff = change.diff
        diffs.append(time.perf_counter() - start)
        start = time.perf_counter()
        index = {tp.id: tp for tp in change.new}
        dicts.append(time.perf_counter() - start)
        assert len(diff.changed) == 1
        assert len(index) == len(change.new)
    mine, theirs = statistics.median(diffs) * 1e3, statistics.median(dicts) * 1e3
    print(
        f"change.diff of a polled change to {len(changes[0].new):,} tracepoints, first access:"
        f"  {mine:.2f} ms  vs  a dict of the ids {theirs:.2f} ms  → ratio {mine / theirs:.2f}"
        "  (target <= 1.5)"
    )


def tape_figure(folder: Path, size: int, count: int) -> None:
    answers = Answers()
    path = folder / "polled.tape.jsonl"
    first = next(versions(size, 1))
    recording = polls = 0.0
    with serving(answers) as target, polling(target, keep=False) as (hub, source, _):
        recorder = Recorder(path, source=target)

        def recorded(change: ConfigChange) -> None:
            nonlocal recording
            start = time.perf_counter()
            recorder.on_next(change)
            recording += time.perf_counter() - start

        hub.changes.subscribe(recorded)
        for config in versions(size, count + 1):
            answers.prepare(config)
            start = time.perf_counter()
            source.poll_once()
            polls += time.perf_counter() - start
        recorder.close()
    assert recorder.count == count + 1
    tape = path.stat().st_size
    full = len(json.dumps([tp.to_dict() for tp in first]).encode())
    per_poll, per_record = polls / (count + 1) * 1e3, recording / (count + 1) * 1e3
    print(
        f"tape of {count:,} polled single-tracepoint changes to a {size:,}-tracepoint config:"
        f"  {tape / 1024:,.0f} KiB  vs  the config serialized once {full / 1024:,.0f} KiB"
        f"  → ratio {tape / full:.2f}  (target <= 2);  per change: poll_once"
        f" {per_poll:.1f} ms, of it recording {per_record:.2f} ms"
    )


def memory_figure(size: int, count: int) -> None:
    answers = Answers()
    held: list[tuple[Any, ...]] = []
    configs = versions(size, count)
    with serving(answers) as target:
        answers.prepare(next(configs))
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        response = poll_pb2.PollResponse.FromString(answers.answer)
        one = tuple(TracePoint.from_proto(message) for message in response.response)
        del response
        gc.collect()
        single = tracemalloc.get_traced_memory()[0] - before
        del one
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        with polling(target) as (_, source, changes):
            source.poll_once()
            for config in configs:
                answers.prepare(config)
                source.poll_once()
            held = [change.new for change in changes]
            changes.clear()
        del source
        answers.answer = b""  # the last answer, traced where the first was not
        gc.collect()
        hundred = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
    # Each version is a tuple, as ConfigChange promises: its spine of references is its
    # own (8 bytes a tracepoint), whatever the tracepoints it shares.
    spines = sum(map(sys.getsizeof, held))
    print(
        f"memory of {len(held)} consecutive polled configs of {size:,} tracepoints held:"
        f"  {hundred / 2**20:.1f} MiB  vs  one config built from the wire"
        f" {single / 2**20:.1f} MiB  → ratio {hundred / single:.2f}  (target <= 1.5);"
        f"  of it the {len(held)} tuples' own spines {spines / 2**20:.1f} MiB,"
        f" the rest {(hundred - spines) / single:.2f}x one config"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    quick = parser.parse_args().quick
    size = 1_000 if quick else 10_000
    changes = apply_figures(size, 10 if quick else 50)
    diff_figure(changes)
    with tempfile.TemporaryDirectory(prefix="confighub-bench-") as tmp:
        tape_figure(Path(tmp), size, 50 if quick else 1_000)
    memory_figure(size, 20 if quick else 100)
    # The server's figure, measured and worded by benchmarks/_wake.py.
    print(_wake.held_polls_line(quick))


if __name__ == "__main__":
    main()
