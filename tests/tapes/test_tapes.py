"""Tapes: what record writes, what replay gives back, and every way a tape can be bad."""

from __future__ import annotations

import dataclasses
import json
import logging
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reactivex.scheduler import HistoricalScheduler
from reactivex.subject import Subject
from reactivex.testing import TestScheduler

from confighub import (
    ConfigChange,
    ConfigHub,
    LabelExpression,
    MetricDefinition,
    MetricType,
    TapeError,
    TracePoint,
    __version__,
    config_hash,
)
from confighub.tapes import FORMAT, VERSION, Recorder, read_tape, record, replay
from confighub.virtual import run_virtual, virtual_clock
from tests.support.chains import SECOND, chain, write_tape
from tests.support.strategies import configs
from tests.support.threads import alive, started_since
from tests.support.waiting import TIMEOUT
from tests.support.waiting import Recorder as Collect

A = TracePoint("a", "shop/cart.py", 10)
B = TracePoint("b", "shop/cart.py", 20, {"condition": "total > 100"})
C = TracePoint("c", "shop/checkout.py", 5)
D = TracePoint("d", "shop/checkout.py", 9, {"log_msg": "paid {total}", "snapshot": "no_collect"})


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


EDITED = dataclasses.replace(B, args={"condition": "total > 250"})
HISTORY = chain([[A, B], [A, B, C], [A, EDITED, C], [A, C], [D, A, C], [A, C, D], []])


def test_the_header_and_a_delta_per_change(tmp_path: Path) -> None:
    """Line 1 is the header; then the full first config, and only what changed after it."""
    tape = write_tape(tmp_path / "t.jsonl", HISTORY[:4], started=5)
    header, first, added, changed, removed = lines(tape)
    assert header == {
        "format": FORMAT,
        "version": VERSION,
        "source": "test",
        "started": 5,
        "confighub": __version__,
    }
    assert first == {
        "ts": SECOND,
        "old_hash": None,
        "new_hash": config_hash([A, B]),
        "added": [A.to_dict(), B.to_dict()],
    }
    assert added["added"] == [C.to_dict()]
    assert added["old_hash"] == first["new_hash"]
    assert changed["changed"] == [EDITED.to_dict()]
    assert removed["removed"] == ["b"]
    assert not {"old", "config", "positions"} & (added.keys() | changed.keys() | removed.keys())


def test_an_insertion_keeps_its_position_and_a_reorder_is_a_full_config(tmp_path: Path) -> None:
    """An inserted tracepoint is stored with its position; a reordered config is stored whole."""
    tape = write_tape(tmp_path / "t.jsonl", HISTORY)
    events = lines(tape)[1:]
    assert events[4]["positions"] == [0]  # d inserted before a
    assert events[5]["config"] == [A.to_dict(), C.to_dict(), D.to_dict()]  # d moved to the end


def test_read_and_replay_give_back_the_recorded_changes(tmp_path: Path) -> None:
    """read_tape and a virtual-time replay both give back exactly the changes recorded."""
    tape = write_tape(tmp_path / "t.jsonl", HISTORY)
    assert list(read_tape(tape)) == HISTORY
    scheduler = TestScheduler()
    assert run_virtual(replay(tape, scheduler), scheduler).values == HISTORY


def test_a_recording_started_mid_stream_holds_the_old_config_once(tmp_path: Path) -> None:
    """A tape that starts mid-stream stores the old config in its first event only."""
    tape = write_tape(tmp_path / "t.jsonl", HISTORY[2:])
    first, second = lines(tape)[1:3]
    assert first["old"] == [A.to_dict(), B.to_dict(), C.to_dict()]
    assert "old" not in second
    assert list(read_tape(tape)) == HISTORY[2:]


def test_a_filtered_stream_that_skips_changes_still_replays_exactly(tmp_path: Path) -> None:
    """Each change that does not start where the last ended carries its own old config."""
    skipping = HISTORY[::2]
    tape = write_tape(tmp_path / "t.jsonl", skipping)
    assert [("old" in event) for event in lines(tape)[1:]] == [False, True, True, True]
    assert list(read_tape(tape)) == skipping


def test_repeated_ids_are_stored_as_full_configs(tmp_path: Path) -> None:
    """A config with a repeated id is stored as a full config, and still replays exactly."""
    twin = dataclasses.replace(A, line=11)
    history = chain([[A, B], [A, twin, B], [A, twin]])
    tape = write_tape(tmp_path / "t.jsonl", history)
    assert [("config" in event) for event in lines(tape)[1:]] == [False, True, True]
    assert list(read_tape(tape)) == history


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(configs(max_size=6), min_size=1, max_size=8), st.integers(0, 3))
def test_any_history_round_trips(
    tmp_path: Path, history: list[list[TracePoint]], skip: int
) -> None:
    """Whatever the configs (repeated ids, moves, edits), replay equals what was recorded."""
    changes = chain(history)[skip:]
    tape = write_tape(tmp_path / "any.jsonl", changes)
    assert list(read_tape(tape)) == changes


def test_a_hub_recorded_live_replays_identically(tmp_path: Path) -> None:
    """record() on a real hub: updates, a custom tracepoint, a heartbeat; then replay."""
    scheduler = TestScheduler()
    seen: list[ConfigChange] = []
    with ConfigHub(clock=virtual_clock(scheduler)) as hub:
        hub.update_new_config(0, config_hash([A]), [A])
        hub.changes_with_current().subscribe(seen.append)
        recorder = record(hub.changes_with_current(), tmp_path / "hub.jsonl", source="hub")
        for config in ([A, B], [A, B, C], [B, C]):
            scheduler.advance_by(2.5)
            hub.update_new_config(virtual_clock(scheduler)(), config_hash(config), config)
        scheduler.advance_by(1)
        custom = hub.add_custom("shop/cart.py", 99, {"snapshot": "collect"})
        hub.update_no_change(virtual_clock(scheduler)())
        hub.remove_custom(custom)
        recorder.close()
        hub.update_new_config(virtual_clock(scheduler)(), config_hash([C]), [C])
    assert recorder.count == 6
    assert list(read_tape(tmp_path / "hub.jsonl")) == seen[:6]


def test_virtual_replay_keeps_the_recorded_timing(tmp_path: Path) -> None:
    """Each change comes at its distance from the tape's start; speed divides it."""
    history = chain([[A], [A, B], [B]], first=3 * SECOND, step=3 * SECOND)
    tape = write_tape(tmp_path / "t.jsonl", history, started=SECOND)
    scheduler = TestScheduler()
    assert [time for time, _ in run_virtual(replay(tape, scheduler), scheduler).events] == [
        2.0,
        5.0,
        8.0,
    ]
    fast = TestScheduler()
    events = run_virtual(replay(tape, fast, speed=4), fast).events
    assert [time for time, _ in events] == [0.5, 1.25, 2.0]


def test_historical_scheduler_runs_on_the_recorded_clock(tmp_path: Path) -> None:
    """On a HistoricalScheduler set to the tape's start, changes come at their recorded times."""
    history = chain([[A], [A, B]])
    tape = write_tape(tmp_path / "t.jsonl", history, started=SECOND // 2)
    header = read_tape(tape).header
    scheduler = HistoricalScheduler(header.started_at)
    times: list[float] = []
    replay(tape, scheduler).subscribe(lambda _: times.append(scheduler.to_seconds(scheduler.now)))
    scheduler.start()
    assert times == [1.0, 2.0]


def test_a_clock_that_went_back_never_reorders(tmp_path: Path) -> None:
    """A change stamped before the one ahead of it replays in tape order, right after that one."""
    history = chain([[A], [A, B], [B]])
    history[1] = history[1]._replace(ts=0)  # recorded before the first one
    tape = write_tape(tmp_path / "t.jsonl", history)
    scheduler = TestScheduler()
    recording = run_virtual(replay(tape, scheduler), scheduler)
    assert recording.values == history
    assert [time for time, _ in recording.events] == [1.0, 1.0, 3.0]


def test_without_a_scheduler_replay_uses_the_subscribe_one_or_emits_at_once(
    tmp_path: Path,
) -> None:
    """With no scheduler, replay runs on the one given to subscribe, or emits all at once."""
    tape = write_tape(tmp_path / "t.jsonl", HISTORY)
    scheduler = TestScheduler()
    recording = run_virtual(replay(tape), scheduler)
    assert [time for time, _ in recording.events] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    at_once: list[ConfigChange] = []
    done: list[bool] = []
    replay(tape).subscribe(at_once.append, on_completed=lambda: done.append(True))
    assert (at_once, done) == (HISTORY, [True])


def test_real_time_replay_runs_on_its_own_thread_and_stops_when_disposed(
    tmp_path: Path,
) -> None:
    """Real-time replay delivers off the caller's thread; disposed early, it delivers nothing."""
    tape = write_tape(
        tmp_path / "t.jsonl", chain([[A], [A, B], [B]], first=SECOND // 10, step=SECOND // 10)
    )
    got: Collect[ConfigChange] = Collect()
    threads: set[str] = set()
    completed = threading.Event()

    def on_next(change: ConfigChange) -> None:
        threads.add(threading.current_thread().name)
        got(change)

    replay(tape, speed=50).subscribe(on_next, on_completed=completed.set)
    got.wait_for(lambda items: len(items) == 3, "three changes")
    assert completed.wait(5)
    assert threading.current_thread().name not in threads
    before = alive()

    slow = write_tape(
        tmp_path / "slow.jsonl", chain([[A], [A, B]], first=3600 * SECOND, step=3600 * SECOND)
    )
    late: Collect[ConfigChange] = Collect()
    subscription = replay(slow, speed=1).subscribe(late)
    subscription.dispose()
    assert late.items == []
    assert len(started_since(before)) <= 1


def test_recorder_flushes_every_change(tmp_path: Path) -> None:
    """While recording, the file already holds every change: a reader sees them all."""
    subject: Subject[ConfigChange] = Subject()
    recorder = record(subject, tmp_path / "live.jsonl")
    for change in HISTORY[:3]:
        subject.on_next(change)
        assert list(read_tape(tmp_path / "live.jsonl"))[-1] == change
    subject.on_completed()
    assert recorder.closed
    subject.on_next(HISTORY[3])  # after the end: ignored
    assert list(read_tape(tmp_path / "live.jsonl")) == HISTORY[:3]


def test_recorder_refuses_items_a_tape_cannot_hold(tmp_path: Path) -> None:
    """Recording a change whose items are not TracePoints raises a TypeError naming their type."""
    recorder = Recorder(tmp_path / "t.jsonl")
    with pytest.raises(TypeError, match="a tape holds TracePoint items, not object"):
        recorder.on_next(ConfigChange(1, None, "h", (), (object(),)))
    recorder.close()


# Bad tapes: every kind names its line and says why.


def corrupt(
    tmp_path: Path, edit: Callable[[list[str]], list[str]], *, newline: bool = True
) -> Path:
    good = write_tape(tmp_path / "good.jsonl", HISTORY[:4])
    text = "".join(edit(good.read_text().splitlines(keepends=True)))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(text if newline or not text.endswith("\n") else text[:-1])
    return bad


def replace_line(number: int, text: str) -> Callable[[list[str]], list[str]]:
    def edit(lines: list[str]) -> list[str]:
        lines[number - 1] = text + "\n"
        return lines

    return edit


def event_line(**fields: object) -> str:
    record: dict[str, object] = {"ts": 9 * SECOND, "old_hash": "x", "new_hash": "y"}
    record.update(fields)
    return json.dumps(record)


BAD_EVENTS = [
    ("not JSON", replace_line(3, '{"ts": 1, "added": [{'), "not valid JSON: "),
    ("not an object", replace_line(3, "[1, 2]"), "an event must be a JSON object, not [1, 2]"),
    ("no ts", replace_line(3, '{"old_hash": null}'), "'ts' must be ns since the epoch, not None"),
    ("bad hash", replace_line(3, event_line(new_hash=5)), "'new_hash' must be a string or null"),
    (
        "removes what is not there",
        replace_line(3, event_line(removed=["zz"])),
        "the delta does not apply: it removes 'zz', which is not in the config",
    ),
    (
        "changes what is not there",
        replace_line(3, event_line(changed=[D.to_dict()])),
        "the delta does not apply: it changes 'd', which is not in the config",
    ),
    (
        "adds what is there",
        replace_line(3, event_line(added=[A.to_dict()])),
        "the delta does not apply: it adds 'a', which is already in the config",
    ),
    (
        "a position past the end",
        replace_line(3, event_line(added=[D.to_dict()], positions=[7])),
        "the delta does not apply: it adds 'd' at position 7, outside the config",
    ),
    (
        "an invalid tracepoint",
        replace_line(3, event_line(added=[{"id": "e", "path": "x.py", "line": -1}])),
        "'added' holds an invalid tracepoint 'e': field 'line' = -1",
    ),
]


@pytest.mark.parametrize(
    ("edit", "reason"), [case[1:] for case in BAD_EVENTS], ids=[case[0] for case in BAD_EVENTS]
)
def test_a_bad_event_is_a_tape_error_naming_its_line(
    tmp_path: Path, edit: Callable[[list[str]], list[str]], reason: str
) -> None:
    """Each bad event is a TapeError naming line 3; replay emits the change before it, then errs."""
    bad = corrupt(tmp_path, edit)
    with pytest.raises(TapeError, match=r"bad\.jsonl:3: ") as raised:
        list(read_tape(bad))
    assert raised.value.line == 3
    assert reason in raised.value.reason
    assert str(raised.value).startswith(f"{bad}:3: ")
    scheduler = TestScheduler()
    recording = run_virtual(replay(bad, scheduler), scheduler)
    assert recording.values == HISTORY[:1]
    assert isinstance(recording.error, TapeError)
    assert recording.error.line == 3


def test_a_truncated_last_line_says_so(tmp_path: Path) -> None:
    """A tape cut in the middle of its last event fails with a TapeError saying it is truncated."""
    bad = corrupt(tmp_path, lambda lines: [*lines[:-1], lines[-1][:25]], newline=False)
    with pytest.raises(TapeError, match=r"bad\.jsonl:5: truncated: the tape ends in the middle"):
        list(read_tape(bad))


@pytest.mark.parametrize(
    ("first_line", "reason"),
    [
        ("", "empty file: a tape starts with a confighub-tape header"),
        (event_line() + "\n", 'missing header: line 1 is not {"format": "confighub-tape", …}'),
        ('{"format": "other", "version": 1}\n', "missing header"),
        ('{"format": "confighub-tape", "version": 2, "started": 0}\n', "tape version 2 is newer"),
        ('{"format": "confighub-tape", "version": "1", "started": 0}\n', "positive integer"),
        ('{"format": "confighub-tape", "version": 1, "started": "now"}\n', "'started' must be"),
        ("{not json\n", "not valid JSON"),
    ],
)
def test_a_bad_header_fails_at_once(tmp_path: Path, first_line: str, reason: str) -> None:
    """A missing, foreign, newer or malformed header fails read and replay at once, at line 1."""
    bad = tmp_path / "bad.jsonl"
    bad.write_text(first_line)
    for read in (read_tape, replay):
        with pytest.raises(TapeError) as raised:
            read(bad)
        assert (raised.value.line, reason in raised.value.reason) == (1, True)


def test_lenient_replay_plays_the_valid_prefix_and_reports_where_it_stopped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """strict=False plays the changes before a bad line, then logs and reports where it stopped."""
    bad = corrupt(tmp_path, replace_line(4, "garbage"))
    stops: list[TapeError] = []
    scheduler = TestScheduler()
    with caplog.at_level(logging.WARNING, logger="confighub.recording"):
        recording = run_virtual(
            replay(bad, scheduler, strict=False, on_stop=stops.append), scheduler
        )
    assert recording.values == HISTORY[:2]
    assert (recording.error, recording.completed) == (None, 2.0)
    assert [(stop.line, stop.reason.split(":")[0]) for stop in stops] == [(4, "not valid JSON")]
    assert "read 2 changes, stopped at line 4: not valid JSON" in caplog.text
    tape = read_tape(bad, strict=False)
    assert list(tape) == HISTORY[:2]
    assert tape.stopped is not None
    assert tape.stopped.line == 4


def test_unknown_keys_and_blank_lines_are_ignored(tmp_path: Path) -> None:
    """Keys a reader does not know and blank lines change nothing; unknown header keys are kept."""

    def extend(lines: list[str]) -> list[str]:
        header = json.loads(lines[0])
        header["host"] = "box-1"
        event = json.loads(lines[1])
        event["note"] = "from the future"
        return [json.dumps(header) + "\n", json.dumps(event) + "\n", "\n", *lines[2:]]

    tape = corrupt(tmp_path, extend)
    assert list(read_tape(tape)) == HISTORY[:4]
    assert read_tape(tape).header.extra == {"host": "box-1"}


def test_bad_speed_is_refused(tmp_path: Path) -> None:
    """A zero, negative, NaN or infinite speed raises ValueError when replay is called."""
    tape = write_tape(tmp_path / "t.jsonl", HISTORY[:1])
    for speed in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="speed must be a positive number"):
            replay(tape, speed=speed)


def test_bytes_and_mappings_that_look_like_their_marker_round_trip(tmp_path: Path) -> None:
    """JSON has no bytes: they go as base64, and a look-alike mapping is not mistaken for one."""
    odd = TracePoint(
        "odd",
        "x.py",
        1,
        targeting={
            "raw": b"\x00\xff",
            "lookalike": {"$bytes": "AA=="},
            "wrapped": {"$map": {"a": 1}},
            "nested": [b"", {"k": b"v"}],
        },
        metrics=[MetricDefinition("m", MetricType.COUNTER, [LabelExpression("k", static=b"s")])],
    )
    history = chain([[odd]])
    assert list(read_tape(write_tape(tmp_path / "t.jsonl", history))) == history


CRASHING_RECORDER = """
import sys
from confighub import ConfigChange, TracePoint, config_hash
from confighub.tapes import Recorder

recorder = Recorder(sys.argv[1], started=0)
old, old_hash, n = (), None, 0
while True:
    n += 1
    new = (TracePoint("tp", "app.py", n),)
    recorder.on_next(ConfigChange(n, old_hash, config_hash(new), old, new))
    old, old_hash = new, config_hash(new)
    print(n, flush=True)
"""


def test_a_killed_recorder_loses_at_most_the_change_being_written(tmp_path: Path) -> None:
    """SIGKILL mid-recording: every change it reported written replays; at most a torn tail."""
    tape = tmp_path / "crash.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-c", CRASHING_RECORDER, str(tape)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    written = 0
    while written < 200:
        written = int(process.stdout.readline())
    process.kill()
    process.wait(TIMEOUT)
    process.stdout.close()
    kept = read_tape(tape, strict=False)
    changes = list(kept)
    assert len(changes) >= written
    assert [change.new[0].line for change in changes] == list(range(1, len(changes) + 1))
    assert kept.stopped is None or kept.stopped.reason.startswith("truncated")


def test_a_virtual_replay_can_be_run_part_way_and_resumed(tmp_path: Path) -> None:
    """Advancing the scheduler to 2.5 s delivers the first two changes only; the rest follow."""
    tape = write_tape(tmp_path / "t.jsonl", HISTORY[:4])
    scheduler = TestScheduler()
    got: list[ConfigChange] = []
    replay(tape, scheduler).subscribe(got.append)
    scheduler.advance_to(2.5)
    assert got == HISTORY[:2]
    scheduler.start()
    assert got == HISTORY[:4]
