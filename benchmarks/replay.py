"""Tape benchmarks, each measured side by side with its reference in one run.

1. Replaying a 100,000-event tape in virtual time (``replay`` on a ``HistoricalScheduler``,
   confighub's on a heap queue, and on reactivex's ``TestScheduler``, every change rebuilt
   with its configs and delivered to an observer) vs reading the same file and
   ``json.loads``-ing its lines, the floor of any replay; and ``read_tape`` alone (no
   scheduler), to show what decoding costs; a second line, the replay on reactivex's own
   ``HistoricalScheduler``. Each event changes, adds or removes one tracepoint of a
   100-tracepoint config, each version new.
2. The size of a tape of 1,000 single-tracepoint changes to a 10,000-tracepoint
   config vs that config serialized once; and what recording each change costs. Twice:
   with the configs sharing their unchanged tracepoint objects, as a hub's own edits do,
   and (for a tenth of the changes) with every config parsed afresh from dicts, as a wire
   or file source builds them.

Run: ``.venv/bin/python benchmarks/replay.py [--quick]``. Absolute times drift on a
shared machine; the ratios are the figures to read.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

from reactivex.scheduler import HistoricalScheduler, VirtualTimeScheduler
from reactivex.testing import TestScheduler

from confighub import ConfigChange, TracePoint, config_hash
from confighub.tapes import Recorder, read_tape, replay
from confighub.virtual import HeapHistoricalScheduler

SECOND = 1_000_000_000


def tracepoint(n: int, version: int = 0) -> TracePoint:
    """A tracepoint as operators write them: a condition and a fire count."""
    return TracePoint(
        f"tp-{n}",
        f"shop/module_{n % 40}.py",
        10 + n,
        {"condition": f"order.total > {100 + version}", "fire_count": str(1 + version % 9)},
    )


def single_changes(size: int, count: int) -> Iterator[ConfigChange]:
    """The first config of ``size`` tracepoints, then ``count`` - 1 single-tracepoint changes.

    They rotate: one tracepoint changed in place, one added at the end, one removed.
    """
    config = tuple(tracepoint(n) for n in range(size))
    config_id = config_hash(config)
    yield ConfigChange(0, None, config_id, (), config)
    fresh = size
    for number in range(1, count):
        kind = number % 3
        if kind == 0:
            at = number % len(config)
            edited = dataclasses.replace(
                config[at], args={**config[at].args, "condition": f"order.total > {number}"}
            )
            new = (*config[:at], edited, *config[at + 1 :])
        elif kind == 1:
            new = (*config, tracepoint(fresh, number))
            fresh += 1
        else:
            at = number % len(config)
            new = config[:at] + config[at + 1 :]
        new_id = config_hash(new)
        yield ConfigChange(number * SECOND // 10, config_id, new_id, config, new)
        config, config_id = new, new_id


def parsed_afresh(changes: Iterator[ConfigChange]) -> Iterator[ConfigChange]:
    """``changes`` with every new config rebuilt from dicts, as a wire or file source does.

    Each change's ``old`` is the config the one before delivered, as a hub publishes it.
    """
    old: tuple[TracePoint, ...] = ()
    for change in changes:
        new = tuple(TracePoint.from_dict(tp.to_dict()) for tp in change.new)
        yield change._replace(old=old, new=new)
        old = new


def write_tape(path: Path, changes: Iterator[ConfigChange]) -> float:
    """Record ``changes`` to ``path``; returns the seconds spent in ``on_next``."""
    spent = 0.0
    with Recorder(path, source="benchmark", started=0) as recorder:
        for change in changes:
            start = time.perf_counter()
            recorder.on_next(change)
            spent += time.perf_counter() - start
    return spent


def json_floor(path: Path) -> int:
    count = 0
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            json.loads(line)
            count += 1
    return count - 1  # the header is not an event


def virtual_replay(path: Path, scheduler: VirtualTimeScheduler) -> int:
    count = 0

    def seen(_: ConfigChange) -> None:
        nonlocal count
        count += 1

    replay(path, scheduler).subscribe(seen)
    scheduler.start()
    return count


def historical(path: Path) -> int:
    """On confighub's HistoricalScheduler at the tape's start: ``now`` reads the recorded clock."""
    return virtual_replay(path, HeapHistoricalScheduler(read_tape(path).header.started_at))


def reactivex_historical(path: Path) -> int:
    """The same on reactivex's own HistoricalScheduler, whose queue costs more per item."""
    return virtual_replay(path, HistoricalScheduler(read_tape(path).header.started_at))


def on_test_scheduler(path: Path) -> int:
    return virtual_replay(path, TestScheduler())


def untimed(path: Path) -> int:
    """The changes alone, without a scheduler: what decoding costs."""
    return sum(1 for _ in read_tape(path))


def best_of(rounds: int, runs: dict[str, Callable[[], int]]) -> dict[str, float]:
    """The best time of each run over ``rounds``, the runs interleaved within each round."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, run in runs.items():
            gc.collect()
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def replay_figure(folder: Path, events: int, rounds: int) -> None:
    path = folder / "replay.tape.jsonl"
    write_tape(path, single_changes(100, events))
    runs = {
        "floor": json_floor,
        "historical": historical,
        "test": on_test_scheduler,
        "untimed": untimed,
        "reactivex historical": reactivex_historical,
    }
    assert {run(path) for run in runs.values()} == {events}
    best = best_of(rounds, {name: partial(run, path) for name, run in runs.items()})
    per_event = {name: best[name] / events * 1e6 for name in runs}
    floor = per_event["floor"]

    def figure(name: str) -> str:
        return f"{per_event[name]:.2f} µs/event (ratio {per_event[name] / floor:.2f})"

    print(
        f"virtual-time replay of a {events:,}-event tape ({path.stat().st_size / 2**20:.1f} MiB):"
        f"  on a HistoricalScheduler {figure('historical')}, on a TestScheduler {figure('test')}"
        f"  vs  readline + json.loads {floor:.2f} µs/event  (target ratio <= 4);"
        f"  read_tape without a scheduler {figure('untimed')}"
    )
    print(
        f"  the same replay on reactivex's own HistoricalScheduler {figure('reactivex historical')}"
    )


def size_figure(folder: Path, size: int, changes: int, *, fresh: bool = False) -> None:
    path = folder / "size.tape.jsonl"
    history = single_changes(size, changes + 1)
    spent = write_tape(path, parsed_afresh(history) if fresh else history)
    first = next(single_changes(size, 1))
    full = len(json.dumps([tp.to_dict() for tp in first.new]).encode())
    tape = path.stat().st_size
    built = ", each config parsed afresh" if fresh else ""
    print(
        f"tape of {changes:,} single-tracepoint changes to a {size:,}-tracepoint config{built}:"
        f"  {tape / 1024:,.0f} KiB  vs  the config serialized once {full / 1024:,.0f} KiB"
        f"  → ratio {tape / full:.2f}  (target <= 2);"
        f"  recording {spent / (changes + 1) * 1e6:,.0f} µs per change"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    quick = parser.parse_args().quick
    with tempfile.TemporaryDirectory(prefix="confighub-bench-") as tmp:
        folder = Path(tmp)
        replay_figure(folder, 5_000 if quick else 100_000, 1 if quick else 3)
        size, changes = (1_000, 100) if quick else (10_000, 1_000)
        size_figure(folder, size, changes)
        # A tenth of the changes: rebuilding 10,000 tracepoints per change is the slow part.
        size_figure(folder, size, changes // 10, fresh=True)


if __name__ == "__main__":
    main()
