"""`confighub record`, `confighub replay` and `confighub demo --record`, end to end."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

import pytest

from confighub import TracePoint, config_hash
from confighub.cli import main
from confighub.cli._render import change_record
from confighub.server import HubServer, MemoryStore
from confighub.tapes import read_tape
from tests.support.chains import SECOND, chain, write_tape
from tests.support.threads import main_in_thread
from tests.support.waiting import TIMEOUT, wait_until

CHECKOUT = TracePoint("checkout", "shop/checkout.py", 42)
CART = TracePoint("cart", "shop/cart.py", 17)
PAYMENT = TracePoint("payment", "shop/payments.py", 120)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
BUNDLED = Path(__file__).resolve().parents[2] / "notebooks" / "data" / "demo.tape.jsonl"


def timed_tape(path: Path, configs: list[list[TracePoint]], seconds: list[float]) -> Path:
    """A tape of the changes through ``configs``, at ``seconds`` after its start."""
    changes = chain(configs)
    timed = [
        change._replace(ts=round(at * SECOND)) for change, at in zip(changes, seconds, strict=True)
    ]
    return write_tape(path, timed)


def wait_for_a_new_hold(server: HubServer) -> None:
    """Wait until ``server`` holds one more poll than it did when called."""
    held = server.stats().holds
    wait_until(lambda: server.stats().holds > held, "the recorder to hold a poll")


def test_record_writes_what_a_server_serves_until_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole first config, then each edit made while the recorder holds a poll."""
    store = MemoryStore([CHECKOUT])
    tape = tmp_path / "server.jsonl"
    codes: list[int] = []
    with HubServer(store) as server:
        argv = ["record", server.target, "-o", str(tape), "--hold", "5", "--count", "3"]
        thread = main_in_thread(argv, codes)
        for edit in (lambda: store.add(CART), lambda: store.remove("checkout")):
            wait_for_a_new_hold(server)
            edit()
        thread.join(TIMEOUT)
    assert codes == [0]
    changes = list(read_tape(tape))
    assert [change.new for change in changes] == [(CHECKOUT,), (CHECKOUT, CART), (CART,)]
    assert read_tape(tape).header.source == server.target
    out = capsys.readouterr().out
    assert "recorded change 3: " in out
    assert f"3 changes recorded to {tape}" in out


def test_replay_prints_the_tape_as_watch_would(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`confighub replay` prints a tape's changes as watch does: --json records, else text lines."""
    tape = timed_tape(tmp_path / "t.jsonl", [[CHECKOUT], [CHECKOUT, CART], [CART]], [1, 2, 3])
    assert main(["replay", str(tape), "--json"]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert printed == [change_record(change) for change in read_tape(tape)]
    assert main(["replay", str(tape)]) == 0
    out = capsys.readouterr().out
    assert "+ cart  shop/cart.py:17" in out
    assert "- checkout  shop/checkout.py:42" in out


def test_replay_debounces_in_recorded_time_and_filters_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A burst 1 s apart, then quiet: --debounce 3 gives two changes, at once, in virtual time."""
    configs = [[CHECKOUT], [CHECKOUT, CART], [CHECKOUT, CART, PAYMENT], [CART, PAYMENT]]
    tape = timed_tape(tmp_path / "t.jsonl", configs, [1, 2, 3, 30])
    assert main(["replay", str(tape), "--json", "--debounce", "3"]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(p["old_hash"], p["new_hash"]) for p in printed] == [
        (None, config_hash(configs[2])),
        (config_hash(configs[2]), config_hash(configs[3])),
    ]
    assert main(["replay", str(tape), "--json", "--path", "shop/pay*"]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [[tp["id"] for tp in p["added"]] for p in printed] == [["payment"]]


def test_replay_in_real_time_with_a_speed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--speed replays in real time, faster by that factor, and prints every change."""
    tape = timed_tape(tmp_path / "t.jsonl", [[CHECKOUT], [CART]], [1, 2])
    assert main(["replay", str(tape), "--speed", "100", "--json"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_a_bad_tape_fails_with_its_line_or_replays_its_valid_prefix_when_lenient(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cut tape exits 1 naming its line; --lenient plays what precedes it; a missing one, 2."""
    tape = timed_tape(tmp_path / "t.jsonl", [[CHECKOUT], [CART], [PAYMENT]], [1, 2, 3])
    lines = tape.read_text().splitlines(keepends=True)
    tape.write_text("".join([*lines[:3], lines[3][:20]]))
    assert main(["replay", str(tape), "--json"]) == 1
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2
    assert f"error: {tape}:4: truncated: the tape ends in the middle of an event" in captured.err
    assert main(["replay", str(tape), "--json", "--lenient"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2
    assert "stopped at line 4: truncated" in captured.err
    assert main(["replay", str(tmp_path / "missing.jsonl")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_record_and_replay_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    """Record without -o and replay with --speed 0 are usage errors: exit 2 naming the option."""
    assert main(["record", "127.0.0.1:1"]) == 2
    assert "Missing option '-o'" in capsys.readouterr().err
    assert main(["replay", str(BUNDLED), "--speed", "0"]) == 2
    assert "--speed" in capsys.readouterr().err


def test_demo_records_a_tape_like_the_bundled_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The bundled tape (notebooks/data) is what `confighub demo --record` records today."""
    tape = tmp_path / "demo.jsonl"
    assert main(["demo", "--record", str(tape)]) == 0
    assert f"recorded to {tape}" in capsys.readouterr().out

    def shape(path: Path) -> list[tuple[list[str], list[str], list[str], int]]:
        # A custom tracepoint gets a fresh uuid each run: it is compared as "<custom>".
        def named(keys: Iterable[str]) -> list[str]:
            return sorted("<custom>" if UUID.fullmatch(key) else key for key in keys)

        return [
            (named(d.added), named(d.removed), named(d.changed), len(change.new))
            for change in read_tape(path)
            for d in [change.diff]
        ]

    assert shape(tape) == shape(BUNDLED)
    recorded = [change.new_hash for change in read_tape(tape)]
    bundled = [change.new_hash for change in read_tape(BUNDLED)]
    assert recorded[:4] == bundled[:4]  # before the custom tracepoint, the very same configs
