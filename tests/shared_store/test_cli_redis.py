"""`confighub serve --store redis://…` on a real Redis: seeded, password kept out, refused.

``serve`` runs in-process on the test's main thread (``main_on_this_thread``), as it
answers signals there, while a script on another thread reads its banner and talks to
it; its log goes to a ``Transcript`` the script can wait on.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from confighub import TracePoint
from confighub.files import dump_tracepoints
from confighub.manage import Listing, ManagementClient
from confighub.stores import StoreState
from tests.cli.running import Send, Transcript, main_on_this_thread
from tests.support.redis_server import RedisServer
from tests.support.replicas import fresh_state
from tests.support.serve_process import BANNER
from tests.support.waiting import TIMEOUT

SEED = (TracePoint("checkout", "shop/checkout.py", 42), TracePoint("cart", "shop/cart.py", 17))
PAY = TracePoint("pay", "shop/pay.py", 7)
PASSWORD = "s3cret-Pa55"
PASSWORD_ENV = "CONFIGHUB_REDIS_PASSWORD"


def _stderr(monkeypatch: pytest.MonkeyPatch) -> Transcript:
    """A transcript in place of stderr, where serve logs: called in a test (pytest resets it)."""
    transcript = Transcript()
    monkeypatch.setattr(sys, "stderr", transcript)
    return transcript


def _http_url(banner: str) -> str:
    found = re.search(r" and HTTP (\S+?); ", banner)
    assert found is not None, banner
    return found[1]


def _serve(store_url: str, *more: str) -> list[str]:
    return ["serve", "--store", store_url, "--port", "0", "--http-port", "0", *more]


def _seed_file(tmp_path: Path) -> Path:
    file = tmp_path / "seed.yaml"
    file.write_text(dump_tracepoints(SEED))
    return file


def test_serve_with_a_seed_seeds_an_empty_redis_and_serves_it(
    redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--seed FILE on an empty Redis: Redis holds the file's config, and serve serves it."""
    errors = _stderr(monkeypatch)
    listed: list[Listing] = []
    in_redis: list[StoreState] = []

    def read(_: Send) -> None:
        listed.append(ManagementClient(_http_url(errors.wait_for(BANNER))).list())
        in_redis.append(fresh_state(redis_server.url))

    argv = _serve(redis_server.url, "--seed", str(_seed_file(tmp_path)))
    assert main_on_this_thread(argv, read) == 0
    [listing], [held] = listed, in_redis
    assert (listing.tracepoints, listing.initialized) == (SEED, True)
    assert (held.tracepoints, held.hash) == (SEED, listing.hash)
    text = errors.text()
    assert "the namespace 'confighub' was not initialized: seeded it with 2 tracepoints" in text
    assert f"serving 2 tracepoints from {redis_server.url} (hash {listing.hash[:8]})" in text


def test_the_banner_never_shows_a_password_given_in_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """redis://:PASSWORD@HOST:PORT/0 gets in; what serve says shows ***@ in its place."""
    errors = _stderr(monkeypatch)
    listed = []
    with RedisServer(tmp_path / "redis", password=PASSWORD) as secured:
        store_url = f"redis://:{PASSWORD}@127.0.0.1:{secured.port}/0"

        def write(_: Send) -> None:
            client = ManagementClient(_http_url(errors.wait_for(BANNER)))
            client.put(PAY)
            listed.append(client.list())

        argv = _serve(store_url, "--seed", str(_seed_file(tmp_path)))
        assert main_on_this_thread(argv, write) == 0
    assert [tp.id for tp in listed[0].tracepoints] == ["checkout", "cart", "pay"]
    text = errors.text()
    assert f"from redis://***@127.0.0.1:{secured.port}/0 (hash " in text
    assert PASSWORD not in text


def test_the_password_comes_from_the_environment_when_the_url_has_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CONFIGHUB_REDIS_PASSWORD opens a password-protected Redis; without it, one error line."""
    errors = _stderr(monkeypatch)
    written = []
    with RedisServer(tmp_path / "redis", password=PASSWORD) as secured:
        monkeypatch.setenv(PASSWORD_ENV, PASSWORD)

        def write(_: Send) -> None:
            client = ManagementClient(_http_url(errors.wait_for(BANNER)))
            written.append(client.set([PAY]).hash)
            errors.wait_for("changed")

        assert main_on_this_thread(_serve(secured.url), write) == 0
        with secured.client() as direct:
            assert direct.dbsize() > 0
        monkeypatch.delenv(PASSWORD_ENV)
        refused = Transcript()
        monkeypatch.setattr(sys, "stderr", refused)
        assert main_on_this_thread(_serve(secured.url)) == 1
    assert written
    assert PASSWORD not in errors.text()
    [line] = refused.text().splitlines()
    assert line.startswith("error: "), line
    assert f"Redis at {secured.url} is unavailable: Authentication required" in line
    assert "unexpected" not in line


@pytest.fixture
def dead_redis_url(tmp_path: Path) -> str:
    """The URL of a Redis that was there a moment ago, on a port nothing listens on now."""
    gone = RedisServer(tmp_path / "gone").start()
    gone.stop()
    return gone.url


def test_serve_against_an_unreachable_redis_exits_1_with_one_error_line(
    dead_redis_url: str,
) -> None:
    """A real `confighub serve` of a Redis nothing listens at: exit 1, one line, no traceback."""
    command = [sys.executable, "-m", "confighub", *_serve(dead_redis_url)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith("error: "), line
    assert f"Redis at {dead_redis_url}" in line
    assert "Connect call failed" in line or "refused" in line, line
    assert "unexpected" not in line
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
