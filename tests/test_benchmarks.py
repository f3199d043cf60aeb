"""The benchmark scripts run (so they never rot); their figures are read by people, not asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_quick(script: str) -> str:
    """Run ``benchmarks/<script> --quick`` in a fresh interpreter; return what it printed."""
    command = [sys.executable, str(BENCHMARKS / script), "--quick"]
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=300).stdout


def test_dispatch_benchmark_runs_and_confighub_reorders_nothing() -> None:
    """benchmarks/dispatch.py --quick prints every figure, and compat delivered nothing late."""
    out = run_quick("dispatch.py")
    for figure in ("publish to 10 observers", "update→listener latency", "burst to 10 listeners"):
        assert figure in out
    late = re.search(r"compat (\d+), compat through TaskHandler (\d+)", out)
    assert late is not None
    assert late.groups() == ("0", "0")


def test_operators_benchmark_runs_and_debounce_starts_no_thread_per_event() -> None:
    """benchmarks/operators.py --quick prints every figure; debounce_changes starts <= 1 thread."""
    out = run_quick("operators.py")
    for figure in ("debounce, 2,000-event burst", "slow observer", "diff of 10,000 tracepoints"):
        assert figure in out
    threads = re.search(r"debounce_changes [\d.]+ µs/event, (\d+) threads started", out)
    assert threads is not None
    assert int(threads.group(1)) <= 1


def test_wire_benchmark_runs_against_real_processes() -> None:
    """benchmarks/wire.py --quick starts its server, watcher and crowd and prints every figure."""
    out = run_quick("wire.py")
    for figure in ("propagation", "NO_CHANGE throughput", "10,000 tracepoints", "held long polls"):
        assert figure in out
    serialized = re.search(r"bodies serialized (\d+) times for (\d+) polls", out)
    assert serialized is not None
    assert int(serialized.group(1)) <= 2 < int(serialized.group(2))


def test_replay_benchmark_runs_and_a_tape_stays_near_one_config() -> None:
    """benchmarks/replay.py --quick prints both figures; the tape's size ratio is read back."""
    out = run_quick("replay.py")
    assert "virtual-time replay of a 5,000-event tape" in out
    size = re.search(r"config serialized once [\d,]+ KiB  → ratio ([\d.]+)", out)
    assert size is not None
    assert float(size.group(1)) <= 2


def test_large_config_benchmark_runs_through_the_wire_and_prints_every_figure() -> None:
    """benchmarks/large_config.py --quick polls through GrpcPollSource and prints each figure."""
    out = run_quick("large_config.py")
    for figure in ("client apply", "change.diff", "tape of", "memory of", "held polls woken"):
        assert figure in out
    ratios = re.findall(r"→ ratio ([\d.]+)  \(target <= [\d.]+\)", out)
    assert len(ratios) == 4


def test_management_benchmark_runs_against_real_processes() -> None:
    """benchmarks/management.py --quick writes over HTTP, GETs, polls, and prints every figure."""
    out = run_quick("management.py")
    for figure in (
        "API write",
        "GET /api/tracepoints",
        "fleet view and metrics on",
        "agents tracked",
    ):
        assert figure in out
    per_agent = re.search(r"([\d,]+) bytes per agent", out)
    assert per_agent is not None
    assert int(per_agent.group(1).replace(",", "")) > 0


def test_scale_out_benchmark_runs_replicas_on_a_real_redis() -> None:
    """benchmarks/scale_out.py --quick runs 3 replicas on its Redis; each write is one script."""
    out = run_quick("scale_out.py")
    for figure in (
        "one API write of a 1,000-tracepoint config",
        "one API write of a 10-tracepoint config",
        "API writes, sequential PUTs",
        "NO_CHANGE throughput",
        "what limits poll throughput",
        "Redis commands a write",
        "memory (RSS)",
    ):
        assert figure in out
    assert len(re.findall(r"→ ratio", out)) == 5
    assert re.search(r"\bevalsha 1\.0\b", out) is not None
