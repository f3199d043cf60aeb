"""The command line at its edges: bad input, failures, help, wording, wrapping, odd values."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from confighub import TracePoint
from confighub.cli import _actions, main
from confighub.files import dump_tracepoints
from confighub.server import HubServer, MemoryStore
from tests.cli.running import main_on_this_thread
from tests.support.chains import chain, write_tape
from tests.support.tls import self_signed_pair
from tests.support.waiting import TIMEOUT

CHECKOUT = TracePoint("checkout", "shop/checkout.py", 42)
COMMANDS = ["demo", "check", "serve", "watch", "record", "replay"]


@pytest.fixture
def file(tmp_path: Path) -> Path:
    """A good tracepoint file holding CHECKOUT."""
    path = tmp_path / "tp.yaml"
    path.write_text(dump_tracepoints([CHECKOUT]))
    return path


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["watch", "127.0.0.1:1", "--interval", "0"], "--interval"),
        (["watch", "127.0.0.1:1", "--interval", "nan"], "--interval"),
        (["watch", "127.0.0.1:1", "--hold", "0"], "--hold"),
        (["watch", "127.0.0.1:1", "--hold", "-1"], "--hold"),
        (["watch", "127.0.0.1:1", "--debounce", "-1"], "--debounce"),
        (["record", "127.0.0.1:1", "-o", "t.jsonl", "--duration", "inf"], "--duration"),
        (["serve", "{file}", "--max-hold", "-5"], "--max-hold"),
        (["serve", "{file}", "--max-hold", "inf"], "--max-hold"),
        (["serve", "{file}", "--agent-silence", "0"], "--agent-silence"),
        (["replay", "{file}", "--speed", "inf"], "--speed"),
        (["demo", "--pause", "nan"], "--pause"),
    ],
)
def test_a_bad_number_is_a_usage_error_not_a_traceback(
    argv: list[str], option: str, file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Zero, negative or non-finite seconds: exit 2 naming the option, before anything runs."""
    code = main_on_this_thread([arg.format(file=file) for arg in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"Invalid value for '{option}'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("port", ["70000", "-1", "65536"])
def test_a_port_outside_0_to_65535_is_refused_not_served_on_another(
    port: str, file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`serve --port 70000` served on 4464 (70000 mod 65536): now a usage error naming the range."""
    code = main_on_this_thread(["serve", str(file), "--port", port])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Invalid value for '--port'" in err
    assert "0<=x<=65535" in err


def test_recording_into_a_missing_folder_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`record -o /no/such/dir/t.jsonl` failed with a traceback once connected: now exit 2."""
    tape = tmp_path / "no" / "such" / "t.jsonl"
    assert main(["record", "127.0.0.1:1", "-o", str(tape), "--duration", "0"]) == 2
    err = capsys.readouterr().err
    assert "Invalid value for '-o' / '--output'" in err
    assert "does not exist" in err


def test_a_tls_key_that_is_not_pem_is_a_usage_error(
    file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A junk --tls-key crashed with a traceback: now exit 2 naming --tls-key, quoting no key."""
    cert, _ = self_signed_pair(tmp_path)
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key at all\n")
    argv = ["serve", str(file), "--port", "0", "--tls-cert", str(cert), "--tls-key", str(junk)]
    assert main_on_this_thread(argv) == 2
    err = capsys.readouterr().err
    assert "--tls-key" in err
    assert "not a key at all" not in err
    assert "Traceback" not in err


def test_a_tls_ca_that_is_not_pem_is_a_usage_error_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A junk --tls-ca failed naming `root_certificates`: now exit 2 naming --tls-ca."""
    junk = tmp_path / "ca.pem"
    junk.write_text("not a certificate\n")
    assert main(["watch", "127.0.0.1:1", "--tls-ca", str(junk), "--duration", "0"]) == 2
    err = capsys.readouterr().err
    assert "--tls-ca holds no PEM certificate" in err
    assert "Traceback" not in err


def test_a_certificate_and_a_key_that_do_not_match_are_called_a_mismatch(
    file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The key of another certificate: a usage error that says they do not belong together."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    cert, _ = self_signed_pair(tmp_path / "a")
    _, other_key = self_signed_pair(tmp_path / "b")
    argv = ["serve", str(file), "--port", "0", "--tls-cert", str(cert), "--tls-key", str(other_key)]
    assert main_on_this_thread(argv) == 2
    err = capsys.readouterr().err
    assert "--tls-key" in err
    assert "does not belong" in err or "match" in err


def test_a_taken_port_says_address_in_use_in_one_error_line(
    file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second server on a busy port: exit 1, one `error:` line with the system's reason."""
    with HubServer(MemoryStore([])) as taken:
        code = main_on_this_thread(["serve", str(file), "--port", str(taken.port)])
    err = capsys.readouterr().err
    assert code == 1
    [line] = [line for line in err.splitlines() if line.startswith("error:")]
    assert "Address already in use" in line
    assert "Traceback" not in err


def test_an_unexpected_exception_is_one_line_and_its_traceback_only_with_verbose(
    file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bug is one `error:` line pointing at -v, exit 1; with -v the traceback follows."""

    def broken(*_: object) -> int:
        raise RuntimeError("a bug in check")

    monkeypatch.setattr(_actions, "check_file", broken)
    assert main(["check", str(file)]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "error: unexpected RuntimeError: a bug in check (run with -v for the traceback)"
    ]
    assert main(["-v", "check", str(file)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: unexpected RuntimeError: a bug in check\n")
    assert "Traceback (most recent call last)" in err
    assert 'raise RuntimeError("a bug in check")' in err


def test_python_dash_m_confighub_runs_the_command_line() -> None:
    """`python -m confighub` failed (no __main__): it runs the CLI, here `--version`."""
    done = subprocess.run(
        [sys.executable, "-m", "confighub", "--version"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("confighub, version ")


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_dash_h_is_help_for_the_group_and_every_command(
    command: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    """`-h` was "No such option": it prints the help, like --help, and exits 0."""
    argv = ["-h"] if command is None else [command, "-h"]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("Usage: ")


def test_one_tracepoint_and_one_change_are_singular(
    file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Counts of one said "1 tracepoints" and "1 changes": now "1 tracepoint", "1 change"."""
    assert main(["check", str(file)]) == 0
    out = capsys.readouterr().out
    assert "1 tracepoint, hash" in out
    assert "tracepoints" not in out
    with HubServer(MemoryStore([CHECKOUT])) as server:
        tape = file.with_name("t.jsonl")
        assert main(["record", server.target, "-o", str(tape), "--count", "1"]) == 0
    assert f"1 change recorded to {tape}" in capsys.readouterr().out


def test_check_lists_every_problem_without_a_fake_timestamp(
    file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Check showed 00:00:00.000 for a file and only its first error: now none, and all of them."""
    assert main(["check", str(file)]) == 0
    out = capsys.readouterr().out
    assert "00:00:00.000" not in out
    assert "checkout  shop/checkout.py:42" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "tracepoints:\n"
        "  - path: a.py\n    line: soon\n"
        "  - path: b.py\n    line: 3\n    args: {stage: sideways}\n"
    )
    assert main(["check", str(bad)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3, err
    assert err[0].startswith(f"{bad}:")
    assert "soon" in err[0]
    assert err[1].startswith(f"{bad}:")
    assert "sideways" in err[1]
    assert err[2] == f"error: {bad}: 2 problems"


def test_replay_json_of_bytes_in_targeting_writes_them_as_tapes_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`replay --json` crashed on bytes (JSON has none): now {"$bytes": base64}, as in tapes."""
    targeted = TracePoint("t", "a.py", 1, targeting={"build": b"\x00\xff"})
    tape = write_tape(tmp_path / "t.jsonl", chain([[targeted]]))
    assert main(["replay", str(tape), "--json"]) == 0
    [record] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["added"][0]["targeting"] == {"build": {"$bytes": "AP8="}}


def test_a_long_line_is_not_hard_wrapped_when_output_is_not_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rich broke lines at 80 columns in files and journals: a long one stays one line."""
    monkeypatch.delenv("COLUMNS", raising=False)
    deep = "shop/" + "very-long-folder-name/" * 8 + "checkout.py"
    tape = write_tape(tmp_path / "t.jsonl", chain([[TracePoint("long", deep, 7)]]))
    assert main(["replay", str(tape)]) == 0
    out = capsys.readouterr().out
    assert f"+ long  {deep}:7" in out.splitlines()[1]
    lines = tape.read_text().splitlines(keepends=True)
    tape.write_text("".join([*lines[:1], "{" + "x" * 150 + "\n"]))
    assert main(["replay", str(tape), "--lenient"]) == 0
    [stopped] = capsys.readouterr().err.splitlines()
    assert len(stopped) > 80
    assert "stopped at line 2: " in stopped
