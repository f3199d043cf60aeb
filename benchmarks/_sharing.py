"""Figures of structural sharing on a large config: diffs, hashes and file reloads.

A private helper of the benchmarks (``benchmarks/large_config.py`` may call it): each
``measure_*`` function returns a dict of figures, times in milliseconds (the best of
``repeat`` runs, so that a busy machine inflates them as little as it can).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from confighub import ConfigChange, TracePoint, config_hash
from confighub.files import dump_tracepoints
from confighub.stores import FileStore

__all__ = [
    "config",
    "edited",
    "measure_diff",
    "measure_file_reload",
    "measure_hash",
    "tracepoints_built",
]


def config(size: int) -> tuple[TracePoint, ...]:
    """``size`` fresh tracepoints ``tp-0``…, each with an args map."""
    return tuple(
        TracePoint(f"tp-{n}", f"app/module_{n % 97}.py", n + 1, {"fire_count": "5"})
        for n in range(size)
    )


def edited(old: tuple[TracePoint, ...], *, shared: bool, at: int = 0) -> tuple[TracePoint, ...]:
    """``old`` with the line of the tracepoint at ``at`` moved; the others shared or rebuilt."""

    def copy(tp: TracePoint) -> TracePoint:
        return tp if shared else TracePoint(tp.id, tp.path, tp.line, tp.args)

    changed = old[at]
    moved = TracePoint(changed.id, changed.path, changed.line + 1, changed.args)
    return tuple(moved if n == at else copy(tp) for n, tp in enumerate(old))


def _best_ms(run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def measure_diff(size: int = 10_000, repeat: int = 20) -> dict[str, float]:
    """``change.diff`` of one edit: fresh objects, shared (first diff), a chain; a dict of ids."""
    base = config(size)
    fresh = edited(base, shared=False)

    def fresh_diff() -> object:
        return ConfigChange(0, None, None, base, fresh).diff

    # A new pair each run, so that no index is remembered from the run before.
    pairs = iter([(old := (*base,), edited(old, shared=True)) for _ in range(repeat)])

    def shared_first() -> object:
        return ConfigChange(0, None, None, *next(pairs)).diff

    chain = [base]
    for n in range(repeat + 1):
        chain.append(edited(chain[-1], shared=True, at=(n * 37) % size))
    assert not ConfigChange(0, None, None, chain[0], chain[1]).diff.empty
    steps = iter(range(1, repeat + 1))

    def chained() -> object:
        k = next(steps)
        return ConfigChange(0, None, None, chain[k], chain[k + 1]).diff

    return {
        "dict_of_ids_ms": _best_ms(lambda: {tp.id: tp for tp in base}, repeat),
        "diff_fresh_ms": _best_ms(fresh_diff, max(3, repeat // 4)),
        "diff_shared_first_ms": _best_ms(shared_first, repeat),
        "diff_shared_chain_ms": _best_ms(chained, repeat),
    }


def measure_hash(size: int = 10_000, repeat: int = 20) -> dict[str, float]:
    """``config_hash``: of fresh tracepoints, and of a shared config after one edit."""
    base = config(size)
    config_hash(base)
    fresh_runs = iter([config(size) for _ in range(3)])
    chain = [base]
    for n in range(repeat):
        chain.append(edited(chain[-1], shared=True, at=(n * 37) % size))
    steps = iter(chain[1:])
    return {
        "hash_fresh_ms": _best_ms(lambda: config_hash(next(fresh_runs)), 3),
        "hash_shared_after_edit_ms": _best_ms(lambda: config_hash(next(steps)), repeat),
        "hash_all_cached_ms": _best_ms(lambda: config_hash(base), repeat),
    }


@contextmanager
def tracepoints_built() -> Iterator[list[int]]:
    """Count the ``TracePoint``s constructed inside the block, in the list's one item."""
    built = [0]
    init: Any = TracePoint.__init__

    def counting(self: TracePoint, *args: Any, **kwargs: Any) -> None:
        built[0] += 1
        init(self, *args, **kwargs)

    TracePoint.__init__ = counting  # type: ignore[method-assign]
    try:
        yield built
    finally:
        TracePoint.__init__ = init  # type: ignore[method-assign]


def measure_file_reload(
    size: int = 10_000, repeat: int = 5, format: str = "json"
) -> dict[str, float]:
    """``FileStore.reload`` of a ``size``-tracepoint file after one entry changed.

    Also how many ``TracePoint``s that reload built, and how many it kept from before.
    """
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"tracepoints.{format}"
        versions = [config(size)]
        for n in range(repeat + 1):
            versions.append(edited(versions[-1], shared=True, at=(n * 37) % size))
        texts = [dump_tracepoints(tps, format=format) for tps in versions]
        path.write_text(texts[0])
        store = FileStore(path, watch=False)
        best, built, reused = float("inf"), 0, 0
        for text in texts[1:]:
            old = store.tracepoints
            path.write_text(text)
            with tracepoints_built() as count:
                start = time.perf_counter()
                store.reload()
                elapsed = time.perf_counter() - start
            if elapsed < best:
                best, built = elapsed, count[0]
                reused = sum(a is b for a, b in zip(old, store.tracepoints, strict=True))
        return {"reload_ms": best * 1000, "tracepoints_built": built, "reused": reused}


if __name__ == "__main__":
    for measure in (measure_diff, measure_hash, measure_file_reload):
        for name, value in measure().items():
            print(f"{name:28} {value:10.3f}")
