"""What the command line logs: each event once, at the level and in the format asked for."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from deepproto.proto.tracepoint.v1 import tracepoint_pb2

import confighub
from confighub import TracePoint
from confighub.cli import main
from confighub.files import dump_tracepoints
from confighub.hub import ConfigHub
from confighub.sources import GrpcPollSource
from tests.cli.running import Send, Transcript, main_on_this_thread
from tests.support.edits import replace_file
from tests.support.poll_server import PollServer
from tests.support.waiting import TIMEOUT

CHECKOUT = TracePoint("checkout", "shop/checkout.py", 42)
BAD = tracepoint_pb2.TracePointConfig(
    ID="tp-bad", path="shop/bad.py", line_number=3, args={"stage": "sideways"}
)
BROKEN = "tracepoints:\n  - path: shop/late.py\n    line: soon\n"
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (DEBUG|INFO|WARNING|ERROR) +\S")


def test_a_library_warning_is_printed_once(
    server: PollServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """A rejected tracepoint was said twice (the CLI's line and the logger's): now once."""
    server.servicer.serve_raw("server-hash-1", [CHECKOUT.to_proto(), BAD])
    assert main(["watch", server.target, "--count", "1", "--interval", "0.05"]) == 0
    err = capsys.readouterr().err
    assert err.count("sideways") == 1, err
    assert all(LOG_LINE.match(line) for line in err.splitlines()), err


def test_the_library_leaves_logging_to_the_application() -> None:
    """With no handler of its own, a library warning went to Python's last-resort handler."""
    handlers = logging.getLogger("confighub").handlers
    assert any(isinstance(handler, logging.NullHandler) for handler in handlers)


def test_verbose_and_log_level_choose_what_is_shown(
    dead_target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """There was no -v nor --log-level: -v shows debug records, --log-level error only errors."""
    for verbose in (["-v"], ["--log-level", "debug"]):
        assert main([*verbose, "watch", dead_target, "--duration", "0"]) == 1
        err = capsys.readouterr().err
        assert re.search(rf" DEBUG +polling {dead_target} every 10", err), err
    assert main(["--log-level", "error", "watch", dead_target, "--duration", "0.2"]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"error: watched nothing: no answer from {dead_target}")


def test_log_format_json_is_one_object_per_line_for_collectors(
    server: PollServer, dead_target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--log-format json: each record, the library's and the CLI's, is one JSON object."""
    server.servicer.serve_raw("server-hash-1", [CHECKOUT.to_proto(), BAD])
    argv = ["--log-format", "json", "watch", server.target, "--count", "1", "--interval", "0.05"]
    assert main(argv) == 0
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert {tuple(record) for record in records} == {("ts", "level", "logger", "message")}
    assert {record["logger"] for record in records} == {"confighub", "confighub.cli"}
    assert {"info", "warning"} <= {record["level"] for record in records}
    assert all(re.fullmatch(r"\d{4}-.*T.*\+00:00", record["ts"]) for record in records)
    assert main(["--log-format", "json", "watch", dead_target, "--duration", "0"]) == 1
    last = json.loads(capsys.readouterr().err.splitlines()[-1])
    assert (last["level"], last["logger"]) == ("error", "confighub.cli")
    assert last["message"].startswith("watched nothing: no answer from")


def test_serve_shows_a_bad_edit_once_the_file_valid_again_and_reloads_on_sighup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Serve said a bad edit twice, never that the file was good again, and died of SIGHUP."""
    file = tmp_path / "tracepoints.yaml"
    file.write_text(dump_tracepoints([CHECKOUT]))
    output = Transcript()
    monkeypatch.setattr(sys, "stdout", output)
    monkeypatch.setattr(sys, "stderr", output)

    def operate(send: Send) -> None:
        output.wait_for("SIGHUP reloads")
        replace_file(file, BROKEN)
        output.wait_for("kept the last good config")
        replace_file(file, dump_tracepoints([CHECKOUT]))
        output.wait_for("valid again")
        send(signal.SIGHUP)
        output.wait_for("unchanged")

    assert main_on_this_thread(["serve", str(file), "--port", "0"], operate) == 0
    text = output.text()
    assert text.count("soon") == 1, text
    assert text.count("valid again") == 1, text
    assert f"SIGHUP: reading {file} again" in text
    assert f"{file} unchanged: 1 tracepoint, hash" in text
    assert all(LOG_LINE.match(line) for line in text.splitlines()), text


def test_serve_takes_its_token_from_a_file_and_logs_a_refused_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--token-file: an agent with the token polls; one without is refused, and serve says so."""
    file = tmp_path / "tracepoints.yaml"
    file.write_text(dump_tracepoints([CHECKOUT]))
    token = tmp_path / "token"
    token.write_text("s3cret-from-file\n")
    output = Transcript()
    monkeypatch.setattr(sys, "stderr", output)

    def poll(send: Send) -> None:
        banner = output.wait_for("SIGHUP reloads")
        match = re.search(r"on (127\.0\.0\.1:\d+)", banner)
        assert match is not None, banner
        with ConfigHub() as hub:
            GrpcPollSource(match[1], hub, token="s3cret-from-file").poll_once()
            assert hub.current_config == (CHECKOUT,)
            with pytest.raises(confighub.PollFailed, match="UNAUTHENTICATED"):
                GrpcPollSource(match[1], hub).poll_once()
        output.wait_for("WARNING")

    argv = ["serve", str(file), "--port", "0", "--token-file", str(token)]
    assert main_on_this_thread(argv, poll) == 0
    assert "s3cret" not in output.text()


def test_sighup_reloads_a_serve_process_instead_of_killing_it(tmp_path: Path) -> None:
    """A real `python -m confighub serve` process: SIGHUP reads the file again, SIGINT stops it."""
    file = tmp_path / "tracepoints.yaml"
    file.write_text(dump_tracepoints([CHECKOUT]))
    process = subprocess.Popen(
        [sys.executable, "-m", "confighub", "serve", str(file), "--port", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={key: value for key, value in os.environ.items() if key != "COLUMNS"},
    )
    assert process.stderr is not None

    def read_until(part: str) -> list[str]:
        assert process.stderr is not None
        lines = [process.stderr.readline()]
        while part not in lines[-1]:
            lines.append(process.stderr.readline())
            assert lines[-1], f"the process ended before saying {part!r}: {lines}"
        return lines

    try:
        read_until("SIGHUP reloads")
        process.send_signal(signal.SIGHUP)
        after = read_until(f"{file} unchanged: 1 tracepoint, hash")
        assert process.poll() is None, after
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0, rest
    assert any(f"SIGHUP: reading {file} again" in line for line in after), after
