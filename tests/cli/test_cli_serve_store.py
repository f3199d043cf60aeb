"""`confighub serve` of a store with its HTTP API, and tenants: `--tenant` on every client."""

from __future__ import annotations

import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from confighub import ConfigHub, TracePoint
from confighub.cli import main
from confighub.files import dump_tracepoints
from confighub.manage import ManagementClient
from confighub.server import HubServer, MemoryStore
from confighub.sources import GrpcPollSource
from confighub.stores import SqliteStore
from tests.cli.running import Send, Transcript, main_on_this_thread
from tests.support.waiting import wait_until

CHECKOUT = TracePoint("checkout", "shop/checkout.py", 42)
CART = TracePoint("cart", "shop/cart.py", 17)
PAY = TracePoint("pay", "shop/pay.py", 7)
BANNER = "Ctrl-C stops"


def _stderr(monkeypatch: pytest.MonkeyPatch) -> Transcript:
    """stderr, where serve logs, as a transcript the test can wait on.

    Set in the test itself: pytest puts its own capture back between a fixture and the test.
    """
    transcript = Transcript()
    monkeypatch.setattr(sys, "stderr", transcript)
    return transcript


def _tp(server: HubServer, *argv: str) -> list[str]:
    """The argv of ``confighub tp ARGV --server URL``."""
    return ["tp", *argv, "--server", server.http_url]


def _http_url(banner: str) -> str:
    match = re.search(r"HTTP (http://127\.0\.0\.1:\d+\S*)", banner)
    assert match is not None, banner
    return match[1].rstrip(";,")


def test_serve_a_sqlite_store_written_through_the_api_keeps_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write through `--http-port` lands in the --store file and outlives the server."""
    errors = _stderr(monkeypatch)
    db = tmp_path / "hub.db"
    urls: list[str] = []

    def write(_: Send) -> None:
        banner = errors.wait_for(BANNER)
        url = _http_url(banner)
        urls.append(url)
        ManagementClient(url).put(PAY)
        errors.wait_for("changed")

    argv = ["serve", "--store", f"sqlite:{db}", "--port", "0", "--http-port", "0"]
    assert main_on_this_thread(argv, write) == 0
    text = errors.text()
    assert re.search(rf"serving 0 tracepoints from sqlite:{re.escape(str(db))} \(hash ", text)
    assert re.search(r"on gRPC 127\.0\.0\.1:\d+ and HTTP http://127\.0\.0\.1:\d+;", text), text
    assert "SIGHUP reloads" not in text
    with SqliteStore(db) as store:
        assert store.tracepoints == (PAY,)


def test_serve_without_file_or_store_uses_the_default_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No FILE, no --store: sqlite:confighub.db in the working folder, and the banner says so."""
    errors = _stderr(monkeypatch)
    monkeypatch.chdir(tmp_path)

    def hang_up(send: Send) -> None:
        errors.wait_for(BANNER)
        # Once, the moment the banner is out: the kernel may hand it to any thread, and it
        # must be answered all the same (it was not, now and then, while serve waited in
        # one long wait).
        send(signal.SIGHUP)
        errors.wait_for("nothing to read again")

    assert main_on_this_thread(["serve", "--port", "0"], hang_up) == 0
    text = errors.text()
    assert "from sqlite:confighub.db (the default: no FILE or --store given)" in text
    assert "SIGHUP: sqlite:confighub.db" in text
    assert (tmp_path / "confighub.db").is_file()


def test_serve_a_file_with_http_names_both_and_still_reloads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A FILE with --http-port and a prefix: the banner has both, and the API reads the file."""
    errors = _stderr(monkeypatch)
    file = tmp_path / "tp.yaml"
    file.write_text(dump_tracepoints([CHECKOUT]))

    def read(_: Send) -> None:
        url = _http_url(errors.wait_for(BANNER))
        assert url.endswith("/hub")
        assert ManagementClient(url).get("checkout") == CHECKOUT

    argv = ["serve", str(file), "--port", "0", "--http-port", "0", "--http-prefix", "/hub"]
    assert main_on_this_thread(argv, read) == 0
    assert "SIGHUP reloads" in errors.text()


def test_multitenant_serve_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--multitenant serves one config per tenant; the banner says it."""
    errors = _stderr(monkeypatch)
    db = tmp_path / "hub.db"

    def tenant_write(_: Send) -> None:
        url = _http_url(errors.wait_for(BANNER))
        ManagementClient(url, tenant="a").put(PAY)

    argv = ["serve", "--store", f"sqlite:{db}", "--port", "0", "--http-port", "0", "--multitenant"]
    assert main_on_this_thread(argv, tenant_write) == 0
    assert "one config per tenant" in errors.text()
    with SqliteStore(db) as store:
        assert store.tracepoints == ()
        assert store.tenant("a").tracepoints == (PAY,)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--store", "sqlite:{tmp}/x.db", "{file}"], "give FILE or --store, not both"),
        (["--store", "redis://:s3cret@h:port/0"], "is not a Redis URL"),
        (["--store", "sqlite:{tmp}/x.db", "--seed", "{file}"], "a seed is for a redis:// store"),
        (["--seed", "{file}", "{file}"], "--seed is for a --store redis://"),
        (["--store", "nonsense"], "is not a store URL"),
        (["--http-prefix", "/hub"], "--http-prefix needs --http-port"),
        (["--http-port", "70000"], "--http-port"),
    ],
)
def test_bad_serve_settings_are_usage_errors(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each is exit 2 with its reason, before anything is served."""
    file = tmp_path / "tp.yaml"
    file.write_text(dump_tracepoints([CHECKOUT]))
    args = [arg.format(tmp=tmp_path, file=file) for arg in argv]
    assert main_on_this_thread(["serve", "--port", "0", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


@pytest.fixture
def tenants() -> Iterator[HubServer]:
    """A multi-tenant HubServer whose tenant "a" holds PAY."""
    store = MemoryStore([CHECKOUT])
    store.tenant("a").set([PAY])
    with HubServer(store, multitenant=True) as server:
        yield server


@pytest.mark.parametrize("name", ["watch", "record"])
def test_watch_and_record_poll_as_the_tenant(
    name: str, tenants: HubServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--tenant a gets a's config; without it, one error line that says to give --tenant."""
    options = ["-o", str(tmp_path / "t.jsonl")] if name == "record" else []
    argv = [name, tenants.target, *options, "--count", "1"]
    assert main([*argv, "--tenant", "a"]) == 0
    out = capsys.readouterr().out
    assert ("+ pay" in out) if name == "watch" else ("1 live" in out)
    assert main([*argv, "--duration", "5"]) == 1
    [line] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert "UNAUTHENTICATED" in line
    assert "name the tenant with --tenant" in line
    assert main([*argv, "--tenant", ".."]) == 2
    assert "invalid tenant id" in capsys.readouterr().err


def test_tenant_routes_the_tp_commands(capsys: pytest.CaptureFixture[str]) -> None:
    """--tenant reads and writes that tenant's config; none, on a multi-tenant server: refused."""
    store = MemoryStore([CHECKOUT, CART])
    store.tenant("a").set([PAY])
    with HubServer(store, http_port=0, multitenant=True) as server:
        assert main([*_tp(server, "ls"), "--tenant", "a"]) == 0
        out = capsys.readouterr().out
        assert "pay" in out
        assert "checkout" not in out
        assert "tenant a" in out
        assert main([*_tp(server, "rm", "pay"), "--tenant", "a"]) == 0
        assert store.tenant("a").tracepoints == ()
        assert store.tracepoints == (CHECKOUT, CART)
        assert main(_tp(server, "ls")) == 1
        assert "give --tenant" in capsys.readouterr().err
        assert main([*_tp(server, "ls"), "--tenant", "no spaces"]) == 2
        assert "invalid tenant id" in capsys.readouterr().err


def test_agent_silence_forgets_an_agent_that_stopped_polling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--agent-silence 0.2: an agent that polled once is listed, then gone from the fleet view."""
    errors = _stderr(monkeypatch)
    db = tmp_path / "hub.db"
    listed: list[int] = []

    def poll_and_wait(_: Send) -> None:
        banner = errors.wait_for(BANNER)
        url = _http_url(banner)
        target = re.search(r"gRPC (127\.0\.0\.1:\d+)", banner)
        assert target is not None, banner
        with ConfigHub() as hub:
            source = GrpcPollSource(target[1], hub)
            source.poll_once()
            source.stop()
        client = ManagementClient(url)
        listed.append(len(client.agents()))
        wait_until(lambda: client.agents() == [], "the silent agent to be forgotten")

    argv = ["serve", "--store", f"sqlite:{db}", "--port", "0", "--http-port", "0"]
    assert main_on_this_thread([*argv, "--agent-silence", "0.2"], poll_and_wait) == 0
    assert listed == [1]
