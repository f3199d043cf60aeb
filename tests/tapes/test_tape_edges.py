"""Tapes at their edges: sources that rebuild every config, and lines no reader should trust."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest
from reactivex.scheduler import HistoricalScheduler
from reactivex.testing import TestScheduler

from confighub import ConfigChange, TapeError, TracePoint, config_hash
from confighub._internal.virtualtime import HeapHistoricalScheduler
from confighub.tapes import Tape, read_tape, replay
from confighub.tapes._format import MAX_LINE
from confighub.virtual import run_virtual
from tests.support.chains import SECOND, chain, write_tape
from tests.support.waiting import TIMEOUT
from tests.support.waiting import Recorder as Collect

A = TracePoint("a", "shop/cart.py", 10)
B = TracePoint("b", "shop/cart.py", 20, {"condition": "total > 100"})
C = TracePoint("c", "shop/checkout.py", 5, targeting={"tier": 1})
HISTORY = chain([[A], [A, B], [A, B, C], [B, C]])


def parsed_afresh(config: Iterable[TracePoint]) -> tuple[TracePoint, ...]:
    """``config`` rebuilt from its dicts: equal tracepoints, none of them the same object."""
    return tuple(TracePoint.from_dict(tp.to_dict()) for tp in config)


def event_sizes(tape: Path) -> list[int]:
    """The size in bytes of each event line of ``tape``."""
    return [len(line) for line in tape.read_bytes().splitlines()[1:]]


def edited(config: Sequence[TracePoint], at: int, **fields: Any) -> list[TracePoint]:
    """``config`` with the tracepoint at ``at`` given ``fields``."""
    return [dataclasses.replace(tp, **fields) if n == at else tp for n, tp in enumerate(config)]


def test_equal_tracepoints_built_afresh_were_stored_as_a_whole_config(tmp_path: Path) -> None:
    """A source that rebuilds every config (wire, file) records one changed tracepoint, not all."""
    first = [
        TracePoint(f"tp-{n}", f"shop/module_{n % 40}.py", n + 1, {"condition": f"total > {n}"})
        for n in range(500)
    ]
    configs = [first]
    for n in range(1, 30):
        configs.append(edited(configs[-1], n, line=9000 + n))
    changes = chain(parsed_afresh(config) for config in configs)
    tape = write_tape(tmp_path / "fresh.jsonl", changes)
    whole = len(json.dumps([tp.to_dict() for tp in first]))
    assert max(event_sizes(tape)[1:]) < whole // 100
    assert list(read_tape(tape)) == changes


def test_a_value_that_only_changed_type_was_lost_from_a_delta(tmp_path: Path) -> None:
    """1 → True in targeting (== calls them equal, the config hash does not) is kept, as a delta."""
    first = [
        TracePoint(f"tp-{n}", "shop/cart.py", n + 1, targeting={"tier": 1}) for n in range(200)
    ]
    configs = [first, edited(first, 7, targeting={"tier": True}), edited(first, 7, line=900)]
    changes = chain(parsed_afresh(config) for config in configs)
    tape = write_tape(tmp_path / "types.jsonl", changes)
    assert max(event_sizes(tape)[1:]) < event_sizes(tape)[0] // 50
    replayed = list(read_tape(tape))
    assert [config_hash(change.new) for change in replayed] == [c.new_hash for c in changes]
    assert replayed[1].new[7].targeting["tier"] is True


# Lines no reader should trust: each is a TapeError naming its file and line, however read.


def tape_with_line_3(tmp_path: Path, line: bytes) -> Path:
    """A good tape of ``HISTORY`` whose third line (its second event) is ``line``."""
    lines = write_tape(tmp_path / "good.jsonl", HISTORY).read_bytes().splitlines(keepends=True)
    lines[2] = line + b"\n"
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"".join(lines))
    return bad


def event(**fields: object) -> bytes:
    record: dict[str, object] = {"ts": 9 * SECOND, "old_hash": "x", "new_hash": "y", **fields}
    return json.dumps(record, ensure_ascii=False).encode()


BAD_LINES = {
    "not UTF-8": (b'{"ts": 2000000000, "note": "caf\xe9"}', "not UTF-8: byte 0xe9"),
    "100,000 [": (b"[" * 100_000, "nested too deeply"),
    "nested targeting": (
        event(added=[{"id": "e", "path": "x.py", "line": 1, "targeting": {"k": None}}]).replace(
            b"null", b"[" * 900 + b"]" * 900
        ),
        "nested too deeply",
    ),
    "non-ASCII $bytes": (
        event(added=[{"id": "e", "path": "x.py", "line": 1, "targeting": {"k": {"$bytes": "é"}}}]),
        "'added' holds bad base64 bytes",
    ),
    "a 5,000-digit integer": (b'{"ts": ' + b"9" * 5000 + b"}", "an integer of more than 4300"),
    "ts past 64 bits": (event(ts=2**64), "'ts' must fit in a signed 64-bit integer"),
}


def read_all(path: Path) -> list[ConfigChange]:
    return list(read_tape(path))


def iterate_changes(path: Path) -> list[ConfigChange]:
    return list(Tape(path).changes())


def virtual(path: Path) -> list[ConfigChange]:
    scheduler = TestScheduler()
    recording = run_virtual(replay(path, scheduler), scheduler)
    assert recording.error is not None
    raise recording.error


def at_once(path: Path) -> list[ConfigChange]:
    errors: list[Exception] = []
    replay(path).subscribe(on_error=errors.append)
    raise errors[0]


def real_time(path: Path) -> list[ConfigChange]:
    errors: Collect[Exception] = Collect()
    replay(path, speed=1000).subscribe(on_error=errors)
    raise errors.wait_for(lambda seen: len(seen) == 1, "the replay's error")[0]


MODES: dict[str, Callable[[Path], list[ConfigChange]]] = {
    "read_tape": read_all,
    "Tape.changes": iterate_changes,
    "virtual": virtual,
    "at once": at_once,
    "real time": real_time,
}


@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
@pytest.mark.parametrize(("line", "reason"), BAD_LINES.values(), ids=BAD_LINES.keys())
def test_a_hostile_line_escaped_as_another_error_or_hung_a_real_time_replay(
    tmp_path: Path, mode: Callable[[Path], list[ConfigChange]], line: bytes, reason: str
) -> None:
    """Every reader and every replay mode fails with a TapeError naming the file and line 3."""
    bad = tape_with_line_3(tmp_path, line)
    with pytest.raises(TapeError) as raised:
        mode(bad)
    assert (raised.value.path, raised.value.line) == (str(bad), 3)
    assert reason in raised.value.reason
    assert len(str(raised.value)) < 1200


@pytest.mark.parametrize(("line", "reason"), BAD_LINES.values(), ids=BAD_LINES.keys())
def test_a_hostile_line_escaped_a_lenient_read(tmp_path: Path, line: bytes, reason: str) -> None:
    """strict=False stops before the line, keeps the change before it and reports the line."""
    bad = tape_with_line_3(tmp_path, line)
    tape = read_tape(bad, strict=False)
    assert list(tape) == HISTORY[:1]
    assert tape.stopped is not None
    assert (tape.stopped.line, reason in tape.stopped.reason) == (3, True)
    stops: Collect[TapeError] = Collect()
    done = threading.Event()
    seen: Collect[ConfigChange] = Collect()
    replay(bad, speed=1000, strict=False, on_stop=stops).subscribe(seen, on_completed=done.set)
    assert done.wait(TIMEOUT)
    assert (seen.items, [stop.line for stop in stops.items]) == (HISTORY[:1], [3])


def test_removed_ids_that_are_not_strings_gave_a_garbled_reason(tmp_path: Path) -> None:
    """'removed' holding anything but ids says so, not what the dict lookup raised."""
    bad = tape_with_line_3(tmp_path, event(removed=[["a"]]))
    with pytest.raises(TapeError, match=r":3: 'removed' must be a list of ids, not \[\['a'\]\]"):
        list(read_tape(bad))


def test_a_line_past_the_bound_was_read_whole(tmp_path: Path) -> None:
    """A line longer than MAX_LINE bytes is a TapeError naming it, even where it is valid JSON."""
    bad = tape_with_line_3(tmp_path, event(note="x" * MAX_LINE))
    with pytest.raises(TapeError, match=r"bad\.jsonl:3: longer than 67,108,864 bytes"):
        list(read_tape(bad))


def test_a_header_line_that_is_not_utf_8_escaped_as_a_unicode_error(tmp_path: Path) -> None:
    """A header that is not UTF-8 fails read_tape and replay at once, at line 1."""
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"format": "confighub-tape", "source": "\xff", "version": 1, "started": 0}\n')
    for read in (read_tape, replay):
        with pytest.raises(TapeError, match=r"bad\.jsonl:1: not UTF-8"):
            read(bad)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("started", 2**70, "'started' must fit in a signed 64-bit integer"),
        ("source", {"host": "x"}, "'source' must be a string or null"),
        ("confighub", 7, "'confighub' must be a string"),
    ],
)
def test_a_header_field_of_the_wrong_kind_was_accepted(
    tmp_path: Path, field: str, value: object, reason: str
) -> None:
    """A start no replay can time, or a source or version that is no string, fails at line 1."""
    header = {"format": "confighub-tape", "version": 1, "started": 0, field: value}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(header) + "\n")
    with pytest.raises(TapeError, match=r"bad\.jsonl:1: ") as raised:
        read_tape(bad)
    assert reason in raised.value.reason


def test_a_change_too_far_ahead_for_the_clock_killed_the_replay(tmp_path: Path) -> None:
    """A due time no datetime can hold (ts near 2**63 at a slow speed) reaches on_error."""
    far = chain([[A], [A, B]], first=0)
    far[1] = far[1]._replace(ts=2**63 - 1)
    tape = write_tape(tmp_path / "far.jsonl", far)
    errors: Collect[Exception] = Collect()
    seen: Collect[ConfigChange] = Collect()
    replay(tape, speed=0.001).subscribe(seen, on_error=errors)
    errors.wait_for(lambda got: len(got) == 1, "the replay's error")
    assert isinstance(errors.items[0], OverflowError | ValueError)
    assert seen.items == far[:1]
    started = read_tape(tape).header.started_at
    for scheduler in (HistoricalScheduler(started), HeapHistoricalScheduler(started)):
        historical: list[Exception] = []
        replay(tape, scheduler, speed=0.001).subscribe(on_error=historical.append)
        scheduler.start()
        assert len(historical) == 1
        assert "due past" in str(historical[0])


def test_recording_a_time_the_reader_refuses_was_allowed(tmp_path: Path) -> None:
    """A change whose ts is no 64-bit integer is refused when recorded, as reading would."""
    change = ConfigChange(2**64, None, config_hash([A]), (), (A,))
    with pytest.raises(ValueError, match="ts must fit in a signed 64-bit integer"):
        write_tape(tmp_path / "t.jsonl", [change])


@pytest.mark.parametrize(
    ("around", "reason"),
    [
        (("  ", " \t\r\n"), None),
        (("", "\r\n"), None),
        (("", ' {"ts": 1}\n'), "not valid JSON: Extra data"),
        (("", "\x0b\n"), "not valid JSON: Extra data"),
        (("\ufeff", "\n"), "not valid JSON: Unexpected UTF-8 BOM"),
    ],
)
def test_the_quick_parse_of_a_line_reads_what_json_loads_reads(
    tmp_path: Path, around: tuple[str, str], reason: str | None
) -> None:
    """A line with JSON whitespace around its event reads; anything else fails as loads does."""
    tape = write_tape(tmp_path / "t.jsonl", HISTORY[:2])
    header, first, second = tape.read_text(encoding="utf-8").splitlines()
    before, after = around
    tape.write_text(f"{header}\n{first}\n{before}{second}{after}", encoding="utf-8")
    if reason is None:
        assert list(read_tape(tape)) == HISTORY[:2]
    else:
        with pytest.raises(TapeError, match=reason) as caught:
            list(read_tape(tape))
        assert caught.value.line == 3
