"""`confighub tp` and `confighub agents` against a real HubServer's HTTP API on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from confighub import ConfigHub, TracePoint, config_hash
from confighub.cli import main
from confighub.files import dump_tracepoints, parse_tracepoints
from confighub.manage import Listing, ManagementClient
from confighub.server import HubServer, MemoryStore, StoreState
from confighub.sources import GrpcPollSource
from tests.support.stores import UninitializedStore
from tests.support.waiting import wait_until

CHECKOUT = TracePoint("checkout", "shop/checkout.py", 42)
CART = TracePoint(
    "cart", "shop/cart.py", 17, {"snapshot": "no_collect", "log_msg": "cart [bold]{size}"}
)
PAY = TracePoint("pay", "shop/pay.py", 7)
MOVED = TracePoint("cart", "shop/cart.py", 18)
SECRET = "s3cret-value"


@pytest.fixture
def store() -> MemoryStore:
    """A store holding CHECKOUT and CART."""
    return MemoryStore([CHECKOUT, CART])


@pytest.fixture
def server(store: MemoryStore) -> Iterator[HubServer]:
    """A HubServer of ``store`` with its HTTP API on a free port of 127.0.0.1."""
    with HubServer(store, http_port=0) as hub_server:
        yield hub_server


def tp(server: HubServer, *argv: str) -> list[str]:
    """The argv of ``confighub tp ARGV --server URL``."""
    return ["tp", *argv, "--server", server.http_url]


def test_ls_prints_a_table_and_the_full_hash(
    server: HubServer, store: MemoryStore, capsys: pytest.CaptureFixture[str]
) -> None:
    """A row per tracepoint (id, path:line, actions; markup shown as text), then the hash."""
    assert main(tp(server, "ls")) == 0
    out = capsys.readouterr().out
    [checkout] = [line for line in out.splitlines() if "checkout" in line]
    assert checkout.split() == ["checkout", "shop/checkout.py:42", "snapshot"]
    [cart] = [line for line in out.splitlines() if "cart" in line]
    assert cart.split() == ["cart", "shop/cart.py:17", "log"]
    assert out.splitlines()[-1] == f"2 tracepoints, hash {store.hash}"


def test_get_prints_a_tracepoint_file_that_reads_back(
    server: HubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """`tp get` prints YAML in the file format: parsed, it is the tracepoint, markup and all."""
    assert main(tp(server, "get", "cart")) == 0
    assert parse_tracepoints(capsys.readouterr().out) == (CART,)
    assert main(tp(server, "get", "nothing")) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: GET ")
    assert "404 Not Found" in err


def test_add_a_file_and_inline_json_then_rm(
    server: HubServer, store: MemoryStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every tracepoint of a file, a file-form and an API-form JSON object; rm takes one out."""
    file = tmp_path / "more.yaml"
    file.write_text(dump_tracepoints([PAY]))
    assert main(tp(server, "add", str(file))) == 0
    assert main(tp(server, "add", '{"id": "x", "path": "a.py", "line": 1}')) == 0
    assert main(tp(server, "add", '{"path": "b.py", "lineNumber": 2}')) == 0
    out = capsys.readouterr().out
    assert "+ pay  shop/pay.py:7" in out
    assert "+ x  a.py:1" in out
    assert f"hash {store.hash[:8]}" in out
    [_, _, pay, x, served] = store.tracepoints
    assert (pay, x.path, served.path, served.line) == (PAY, "a.py", "b.py", 2)
    assert main(tp(server, "rm", "pay")) == 0
    assert "- pay  shop/pay.py:7" in capsys.readouterr().out
    assert PAY not in store.tracepoints


def test_add_of_an_id_in_use_is_a_409_error_line(
    server: HubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """The server's conflict comes through as one error line, exit 1."""
    assert main(tp(server, "add", json.dumps(CHECKOUT.to_json()))) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("error: POST ")
    assert "409 Conflict" in line


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{not json", "not a tracepoint"),
        ('{"path": "a.py", "line": "x"}', "line"),
        ('{"path": "a.py", "lineNumber": 1, "bogus": 2}', "bogus"),
        ("no/such/file.yaml", "does not exist"),
    ],
)
def test_a_bad_tracepoint_to_add_is_a_usage_error(
    source: str, message: str, server: HubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Inline JSON that is no tracepoint, or no such file: exit 2 before any call."""
    assert main(tp(server, "add", source)) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def _wanted(tmp_path: Path) -> Path:
    """A file that changes CART, adds PAY and leaves CHECKOUT out."""
    file = tmp_path / "wanted.yaml"
    file.write_text(dump_tracepoints([MOVED, PAY]))
    return file


def test_apply_makes_the_server_match_the_file(
    server: HubServer, store: MemoryStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One write (a list, a PUT, one store version), a line per change, a total; again, none."""
    file = _wanted(tmp_path)
    states: list[StoreState] = []
    store.subscribe(states.append)
    assert main(tp(server, "apply", str(file))) == 0
    assert [state.tracepoints for state in states] == [(MOVED, PAY)]
    assert server.stats().http_requests == 2
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == [
        "~ cart  shop/cart.py:18",
        "+ pay  shop/pay.py:7",
        "- checkout  shop/checkout.py:42",
    ]
    assert lines[3].startswith("applied 3 changes (1 added, 1 changed, 1 removed); hash ")
    assert store.hash == config_hash([MOVED, PAY])
    assert main(tp(server, "apply", str(file))) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith(f"nothing to do: the server's 2 tracepoints match {file}")
    assert server.stats().http_requests == 3
    assert len(states) == 1


def test_apply_dry_run_writes_nothing(
    server: HubServer, store: MemoryStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same lines as a real apply, a dry-run total, and the store as it was."""
    before = store.state
    assert main(tp(server, "apply", str(_wanted(tmp_path)), "--dry-run")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line[0] for line in lines[:3]] == ["~", "+", "-"]
    assert lines[3] == "dry run: 3 changes (1 added, 1 changed, 1 removed) to make; nothing written"
    assert store.state == before


def test_apply_against_a_concurrent_change_writes_nothing(
    server: HubServer,
    store: MemoryStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Someone writes between apply's read and its write: 412, no change listed, theirs kept."""
    set_config = ManagementClient.set
    theirs = TracePoint("theirs", "shop/theirs.py", 1)

    def racing(self: ManagementClient, tracepoints: Any, **options: Any) -> Listing:
        store.add(theirs)
        return set_config(self, tracepoints, **options)

    monkeypatch.setattr(ManagementClient, "set", racing)
    assert main(tp(server, "apply", str(_wanted(tmp_path)))) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith("error: PUT ")
    assert "412 Precondition Failed" in line
    assert "the config changed on the server meanwhile, so nothing was written" in line
    assert "run apply again" in line
    assert store.tracepoints == (CHECKOUT, CART, theirs)


def test_apply_seeds_a_store_that_is_not_initialized(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The plan is empty, yet apply writes the whole file, and says it seeded the store."""
    file = tmp_path / "seed.yaml"
    file.write_text(dump_tracepoints([CHECKOUT, CART]))
    with HubServer(UninitializedStore([CHECKOUT, CART]), http_port=0) as server:
        assert main(tp(server, "apply", str(file), "--dry-run")) == 0
        assert server.stats().http_requests == 1
        assert main(tp(server, "apply", str(file))) == 0
        assert server.stats().http_requests == 3  # the dry run's list, a list and the write
    dry, seeded, applied = capsys.readouterr().out.splitlines()
    assert dry == (
        "dry run: 0 changes (0 added, 0 changed, 0 removed) to make; the server's store is not"
        " initialized; nothing written"
    )
    assert seeded == (
        f"the server's store was not initialized: it is now seeded with 2 tracepoints of {file}"
    )
    assert applied.startswith("applied 0 changes (0 added, 0 changed, 0 removed); hash ")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("127.0.0.1:8080", "is not a server URL"),
        ("grpc://127.0.0.1:1", "is not a server URL"),
        ("http://127.0.0.1:1/?x=1", "no query"),
        (f"http://ann:{SECRET}@127.0.0.1:1", "holds credentials"),
    ],
)
def test_a_bad_server_url_is_a_usage_error_that_hides_credentials(
    url: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 2 naming --server and why; a URL with credentials is not echoed."""
    assert main(["tp", "ls", "--server", url]) == 2
    err = capsys.readouterr().err
    assert "Invalid value for '--server'" in err
    assert message in err
    assert SECRET not in err


def test_no_server_is_a_usage_error_and_the_environment_names_one(
    server: HubServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --server: exit 2 naming it; CONFIGHUB_SERVER stands in for it."""
    assert main(["tp", "ls"]) == 2
    assert "--server" in capsys.readouterr().err
    monkeypatch.setenv("CONFIGHUB_SERVER", server.http_url)
    assert main(["tp", "ls"]) == 0


def test_a_server_that_is_down_is_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    """Nothing listens: exit 1, one error line naming the URL and what to check."""
    with HubServer(MemoryStore(), http_port=0) as gone:
        url = gone.http_url
    for argv in (["tp", "ls"], ["agents"], ["tp", "rm", "x"]):
        assert main([*argv, "--server", url]) == 1
        [line] = capsys.readouterr().err.splitlines()
        assert line.startswith("error: ")
        assert url in line
        assert "--http-port" in line


def test_refused_credentials_are_an_error_line_without_the_token(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """401: the status, the options to check, and neither the wrong token nor the right one."""
    with HubServer(store, http_port=0, token=SECRET) as server:
        assert main([*tp(server, "ls"), "--token", "wrong-token-value"]) == 1
        err = capsys.readouterr().err
        assert "401 Unauthorized" in err
        assert "check --token, --token-file or CONFIGHUB_TOKEN" in err
        monkeypatch.setenv("CONFIGHUB_TOKEN", SECRET)
        assert main(tp(server, "ls")) == 0
        captured = capsys.readouterr()
    for secret in (SECRET, "wrong-token-value"):
        assert secret not in err + captured.out + captured.err


def test_agents_lists_an_agent_that_polled(
    server: HubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """After a real GrpcPollSource polled twice: its row (converged, seen just now), the summary.

    Its first poll is answered with the config, so it is behind until a poll holding it.
    """
    with ConfigHub() as hub:
        source = GrpcPollSource(server.target, hub, resource={"service": "shop"})
        source.poll_once()
        source.poll_once()
        source.stop()
    client = ManagementClient(server.http_url)
    wait_until(lambda: bool(client.agents()), "the agent to be listed")
    assert main(["agents", "--server", server.http_url]) == 0
    out = capsys.readouterr().out
    [row] = [line for line in out.splitlines() if "service=shop" in line]
    assert "converged" in row
    assert config_hash([CHECKOUT, CART])[:8] in row
    assert " s ago" in row
    assert out.splitlines()[-1] == "1 agent: 1 converged, 0 behind"


def test_agents_behind_and_of_tenants_are_told_apart(
    server: HubServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An agent behind, one seen minutes ago, one of the default tenant: each row, the summary."""
    seen = {"firstSeen": "2026-01-01T00:00:00.000Z", "resource": {}, "hash": "ab" * 16}
    agents = [
        {**seen, "tenant": "a", "peer": "ipv4:10.0.0.1:5", "converged": True, "lastSeen": "x"},
        {**seen, "tenant": "", "peer": "ipv4:10.0.0.2:6", "converged": False},
    ]
    agents[1]["lastSeen"] = "2026-01-01T00:00:00.000Z"
    monkeypatch.setattr(ManagementClient, "agents", lambda self: agents)
    assert main(["agents", "--server", server.http_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    [first] = [line for line in lines if "10.0.0.1" in line]
    [second] = [line for line in lines if "10.0.0.2" in line]
    assert first.split()[0] == "a"
    assert "converged" in first
    assert first.rstrip().endswith("?")
    assert second.split()[0] == "-"
    assert "behind" in second
    assert "ago" in second
    assert lines[-1] == "2 agents: 1 converged, 1 behind"
