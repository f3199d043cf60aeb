"""Fuzzing the tape reader: whatever a file holds, reading it gives changes or a TapeError.

Inputs are small (a few kilobytes at most), so each example reads in bounded time;
the hostile shapes too large for a fuzzer to reach (100,000 brackets, a 64 MiB
line) have their own tests in ``test_tape_edges``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reactivex.testing import TestScheduler

from confighub import ConfigChange, TapeError, TracePoint
from confighub.tapes import read_tape, replay
from confighub.virtual import run_virtual
from tests.support.chains import chain, write_tape
from tests.support.strategies import configs

_T = TypeVar("_T")
FUZZ = settings(
    max_examples=150,
    deadline=None,  # a shared machine stalls at times; the inputs' size bounds the time
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HEADER = json.dumps({"format": "confighub-tape", "version": 1, "started": 0}).encode() + b"\n"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
tracepoint_dicts = st.fixed_dictionaries(
    {"id": st.sampled_from(["a", "b", "c"]), "path": st.just("x.py"), "line": st.integers(-2, 9)},
    optional={
        "args": st.dictionaries(st.sampled_from(["condition", "fire_count"]), json_values),
        "targeting": json_values | st.fixed_dictionaries({"k": st.just({"$bytes": "é"})}),
        "metrics": json_values,
        "watches": json_values,
    },
)
# Event-shaped objects reach past the JSON parser into the delta and the tracepoints.
events = st.fixed_dictionaries(
    {"ts": st.integers(-(2**64), 2**64) | json_values},
    optional={
        "old_hash": st.none() | st.text(max_size=4) | json_values,
        "new_hash": st.none() | st.text(max_size=4),
        "added": st.lists(tracepoint_dicts, max_size=3) | json_values,
        "changed": st.lists(tracepoint_dicts, max_size=3) | json_values,
        "removed": st.lists(st.sampled_from(["a", "b", "c"]), max_size=3) | json_values,
        "positions": st.lists(st.integers(-1, 4), max_size=3) | json_values,
        "old": st.lists(tracepoint_dicts, max_size=3),
        "config": st.lists(tracepoint_dicts, max_size=3) | json_values,
    },
)


def outcome(read: Callable[[], _T]) -> _T | TapeError:
    """What ``read`` gives: its changes, or the TapeError it raised (anything else fails)."""
    try:
        return read()
    except TapeError as err:
        return err


def read_every_way(path: Path) -> None:
    """Read ``path`` strictly, leniently and by a virtual replay: changes or a TapeError only."""
    header = outcome(lambda: read_tape(path).header)
    if isinstance(header, TapeError):
        assert (header.path, header.line) == (str(path), 1)
        return
    strict = outcome(lambda: list(read_tape(path)))
    lenient = read_tape(path, strict=False)
    kept = list(lenient)
    if isinstance(strict, TapeError):
        assert (strict.path, strict.line >= 2) == (str(path), True)
        assert lenient.stopped is not None
        assert lenient.stopped.line == strict.line
    else:
        assert (kept, lenient.stopped) == (strict, None)
    scheduler = TestScheduler()
    recording = run_virtual(replay(path, scheduler), scheduler)
    assert recording.values == kept
    assert recording.error is None or isinstance(recording.error, TapeError)


def write(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(content)
    return path


def lines_of(values: list[Any]) -> bytes:
    return b"".join(json.dumps(value, ensure_ascii=False).encode() + b"\n" for value in values)


@FUZZ
@given(st.binary(max_size=600))
def test_random_bytes_escaped_the_reader_as_another_error(tmp_path: Path, content: bytes) -> None:
    """Any bytes at all, as a whole file, read as changes or a TapeError."""
    read_every_way(write(tmp_path, content))


@FUZZ
@given(st.lists(st.binary(max_size=80), max_size=6), st.booleans())
def test_random_lines_after_a_header_escaped_the_reader(
    tmp_path: Path, lines: list[bytes], newline: bool
) -> None:
    """A valid header, then lines of any bytes (the last maybe unterminated)."""
    body = b"\n".join(line.replace(b"\n", b" ") for line in lines)
    read_every_way(write(tmp_path, HEADER + body + (b"\n" if newline else b"")))


@FUZZ
@given(st.lists(json_values | events, max_size=6))
def test_random_json_lines_after_a_header_escaped_the_reader(
    tmp_path: Path, values: list[Any]
) -> None:
    """A valid header, then JSON lines: any values, and objects shaped like events."""
    read_every_way(write(tmp_path, HEADER + lines_of(values)))


@FUZZ
@given(
    st.lists(configs(max_size=4), min_size=1, max_size=4),
    st.lists(
        st.tuples(st.integers(0, 10**6), st.binary(max_size=3), st.integers(0, 3)),
        min_size=1,
        max_size=4,
    ),
)
def test_a_recorded_tape_with_bytes_changed_escaped_the_reader(
    tmp_path: Path, history: list[list[TracePoint]], edits: list[tuple[int, bytes, int]]
) -> None:
    """A real tape with a few bytes replaced, inserted or cut: changes or a TapeError."""
    recorded: list[ConfigChange] = chain(history)
    content = bytearray(write_tape(tmp_path / "good.jsonl", recorded).read_bytes())
    for at, new, cut in edits:
        where = at % (len(content) + 1)
        content[where : where + cut] = new
    read_every_way(write(tmp_path, bytes(content)))
