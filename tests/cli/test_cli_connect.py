"""`watch` and `record` against servers that refuse them: giving up, targeting, secrets."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from confighub import TracePoint
from confighub.cli import main
from confighub.files import dump_tracepoints
from confighub.server import HubServer, MemoryStore
from tests.cli.running import Send, Transcript, main_on_this_thread
from tests.support.poll_server import PollServer
from tests.support.polling import resource

CHECKOUT = TracePoint("checkout", "shop/checkout.py", 42)
SECRET = "s3cret-value"


@pytest.fixture
def guarded() -> Iterator[HubServer]:
    """A HubServer serving CHECKOUT to clients that send the bearer token SECRET."""
    with HubServer(MemoryStore([CHECKOUT]), token=SECRET) as server:
        yield server


def _command(name: str, tmp_path: Path) -> list[str]:
    return [name, "-o", str(tmp_path / "t.jsonl")] if name == "record" else [name]


@pytest.mark.parametrize("name", ["watch", "record"])
def test_refused_credentials_end_the_command_with_the_cli_option_names(
    name: str, guarded: HubServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wrong token was retried until --duration, exit 0, hinting `token=`: now exit 1 at once."""
    [command, *options] = _command(name, tmp_path)
    argv = [command, guarded.target, *options, "--token", "wrong-value", "--duration", "5"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    # The server runs in this process: its own log line of the refusal is on stderr too.
    [line] = [line for line in err.splitlines() if guarded.target in line]
    assert line.startswith(f"error: {guarded.target} refused the poll (UNAUTHENTICATED: ")
    assert "check --token, --token-file or CONFIGHUB_TOKEN" in line
    assert "token=" not in err
    assert "wrong-value" not in err


@pytest.mark.parametrize("target", ["", "http://127.0.0.1:1", "grpc://127.0.0.1:1", "127.0.0.1"])
@pytest.mark.parametrize("name", ["watch", "record"])
def test_a_target_the_client_cannot_use_is_a_usage_error(
    name: str, target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty target, a URL or no port was retried forever: now exit 2 before polling."""
    [command, *options] = _command(name, tmp_path)
    assert main([command, target, *options, "--duration", "1"]) == 2
    err = capsys.readouterr().err
    assert "Error: " in err
    assert "Traceback" not in err


@pytest.mark.parametrize("name", ["watch", "record"])
def test_stopping_before_the_server_ever_answered_exits_1(
    name: str, dead_target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Recording nothing from a dead server exited 0 with an empty tape: now one error line."""
    [command, *options] = _command(name, tmp_path)
    argv = ["--log-level", "error", command, dead_target, *options, "--duration", "0.2"]
    assert main(argv) == 1
    [line] = capsys.readouterr().err.splitlines()
    did = f"recorded nothing to {tmp_path / 't.jsonl'}" if name == "record" else "watched nothing"
    assert line.startswith(f"error: {did}: no answer from {dead_target}")


def test_a_token_revoked_mid_run_is_a_warning_and_the_watch_goes_on(
    server: PollServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused after the config came: one warning in the CLI's words; it keeps the config."""
    server.servicer.serve(CHECKOUT)
    errors = Transcript()
    monkeypatch.setattr(sys, "stderr", errors)

    def revoke(_: Send) -> None:
        errors.wait_for("connected to")
        server.servicer.required_auth = "Bearer something-else"
        errors.wait_for("keeping the last good config")

    assert main_on_this_thread(["watch", server.target, "--interval", "0.05"], revoke) == 0
    text = errors.text()
    assert text.count("UNAUTHENTICATED") == 1, text
    assert "check --token" in text
    assert "token=" not in text
    assert "+ checkout" in capsys.readouterr().out


def test_resource_attributes_reach_the_server(
    server: PollServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """There was no --resource, so a targeted tracepoint never showed: the attributes are sent."""
    server.servicer.serve(CHECKOUT)
    argv = ["watch", server.target, "--resource", "service=shop", "--resource", "env=a=b"]
    assert main([*argv, "--count", "1"]) == 0
    assert server.servicer.polls[0].resource == resource(service="shop", env="a=b")
    for bad, message in [("noequals", "expected KEY=VALUE"), ("=x", "expected KEY=VALUE")]:
        assert main(["watch", server.target, "--resource", bad]) == 2
        assert message in capsys.readouterr().err
    assert main(["watch", server.target, "--resource", "a=1", "--resource", "a=2"]) == 2
    assert "'a' is given twice" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["watch", "record"])
def test_a_token_from_the_environment_or_a_file_is_sent_not_shown(
    name: str,
    guarded: HubServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Secrets could only be on the command line (seen in `ps`): also CONFIGHUB_TOKEN, a file."""
    [command, *options] = _command(name, tmp_path)
    base = [command, guarded.target, *options, "--count", "1"]
    monkeypatch.setenv("CONFIGHUB_TOKEN", SECRET)
    assert main(base) == 0
    token = tmp_path / "token"
    token.write_text(SECRET + "\n")
    monkeypatch.setenv("CONFIGHUB_TOKEN", "an-older-token")
    assert main([*base, "--token-file", str(token)]) == 0
    monkeypatch.delenv("CONFIGHUB_TOKEN")
    monkeypatch.setenv("CONFIGHUB_BASIC", "user-without-colon")
    assert main(base) == 2
    captured = capsys.readouterr()
    assert "CONFIGHUB_BASIC must be USER:PASS" in captured.err
    for secret in (SECRET, "an-older-token", "user-without-colon"):
        assert secret not in captured.out + captured.err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (f" {SECRET}\n", "whitespace around it"),
        (f"{SECRET}\n\n", "whitespace around it"),
        ("\n", "holds no token"),
    ],
)
def test_a_token_file_with_whitespace_is_refused_without_showing_the_token(
    content: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only one trailing newline is taken off a token file; the rest is an error, token unsaid."""
    token = tmp_path / "token"
    token.write_text(content)
    assert main(["watch", "127.0.0.1:1", "--token-file", str(token)]) == 2
    err = capsys.readouterr().err
    assert "Invalid value for '--token-file'" in err
    assert message in err
    assert SECRET not in err


def test_a_token_given_twice_or_with_whitespace_is_a_usage_error_that_hides_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--token with --token-file is refused, and so is a --token with spaces, neither shown."""
    token = tmp_path / "token"
    token.write_text(SECRET)
    argv = ["watch", "127.0.0.1:1", "--token", SECRET, "--token-file", str(token)]
    assert main(argv) == 2
    assert "give --token or --token-file, not both" in capsys.readouterr().err
    served = tmp_path / "tp.yaml"
    served.write_text(dump_tracepoints([CHECKOUT]))
    assert main(["serve", str(served), "--token", f" {SECRET}"]) == 2
    err = capsys.readouterr().err
    assert "--token has leading or trailing whitespace" in err
    assert SECRET not in err
