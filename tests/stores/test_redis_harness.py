"""The redis-server harness of the Redis tests (tests/support/redis_server.py), on a real server."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.support import redis_server as harness
from tests.support.redis_server import MISSING, RedisServer, RedisServerError


def _listening(port: int) -> socket.socket:
    """A socket that holds ``port`` on 127.0.0.1 (even right after a server there stopped)."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", port))
    holder.listen()
    return holder


@pytest.fixture
def persistent(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server with its append-only file on, stopped after the test."""
    with RedisServer(tmp_path / "redis", persistent=True) as running:
        yield running


def test_ping_answers_at_its_url_on_loopback(redis_server: RedisServer) -> None:
    """PING answers, through the URL too, on 127.0.0.1 and a port that is not the system's 6379."""
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    assert redis_server.port != 6379
    with redis_server.client() as client:
        assert client.ping() is True
    with redis.Redis.from_url(redis_server.url) as client:
        assert client.ping() is True


def test_persistent_server_keeps_a_key_across_restart(persistent: RedisServer) -> None:
    """A key written before a restart of a persistent server is there after it."""
    with persistent.client() as client:
        client.set("config", "v1")
        persistent.restart()
        assert client.get("config") == b"v1"


def test_persistent_server_keeps_a_key_across_kill(persistent: RedisServer) -> None:
    """A write acknowledged before SIGKILL survives it: the append-only file syncs every write."""
    with persistent.client() as client:
        client.set("config", "v1")
        persistent.kill()
        persistent.start()
        assert client.get("config") == b"v1"


def test_restart_empty_loses_the_data(persistent: RedisServer) -> None:
    """``restart(empty=True)`` brings a persistent server back with no keys."""
    with persistent.client() as client:
        client.set("config", "v1")
        persistent.restart(empty=True)
        assert client.get("config") is None
        assert client.dbsize() == 0


def test_server_without_persistence_comes_back_empty(redis_server: RedisServer) -> None:
    """By default a server saves nothing, so a plain restart loses its keys."""
    with redis_server.client() as client:
        client.set("config", "v1")
        redis_server.restart()
        assert client.get("config") is None


def test_restart_keeps_the_port_and_clients_reconnect(redis_server: RedisServer) -> None:
    """After a restart the port and URL are the same, and a client made before it works again."""
    port, url = redis_server.port, redis_server.url
    with redis_server.client() as client:
        assert client.ping() is True
        redis_server.restart()
        assert (redis_server.port, redis_server.url) == (port, url)
        assert client.ping() is True


def test_kill_makes_the_next_call_raise_connection_error(redis_server: RedisServer) -> None:
    """After ``kill()`` a connected client's next command raises ConnectionError."""
    with redis_server.client() as client:
        assert client.ping() is True
        redis_server.kill()
        assert not redis_server.running
        with pytest.raises(redis.ConnectionError):
            client.ping()


def test_missing_binary_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without redis-server on PATH, start() fails saying how to install it, never skipping."""
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RedisServerError) as raised:
        RedisServer(tmp_path / "redis").start()
    assert str(raised.value) == MISSING
    assert "apt-get install redis-server" in MISSING
    assert "brew install redis" in MISSING


def test_password_refuses_an_unauthenticated_client(tmp_path: Path) -> None:
    """With a password, a client without it is refused and the harness's own client gets in."""
    with RedisServer(tmp_path / "redis", password="s3cret") as secured:
        assert "s3cret" not in secured.url
        stranger = redis.Redis(port=secured.port, retry=Retry(NoBackoff(), 0))
        with stranger, pytest.raises(redis.AuthenticationError):
            stranger.ping()
        with secured.client() as client:
            assert client.ping() is True


def test_a_port_taken_before_redis_binds_it_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the free port found is taken before redis-server binds it, start() takes another."""
    with _listening(0) as taken:
        taken_port = taken.getsockname()[1]
        ports = iter([taken_port, harness._free_port()])
        monkeypatch.setattr(harness, "_free_port", lambda: next(ports))
        with RedisServer(tmp_path / "redis") as running:
            assert running.port != taken_port
            with running.client() as client:
                assert client.ping() is True


def test_a_restart_on_a_taken_port_fails_quoting_the_log(redis_server: RedisServer) -> None:
    """A restart whose port another process took meanwhile fails naming it, with the log's end."""
    redis_server.stop()
    with (
        _listening(redis_server.port),
        pytest.raises(RedisServerError, match=f"127.0.0.1:{redis_server.port} exited") as raised,
    ):
        redis_server.start()
    assert "already in use" in str(raised.value)
    assert not redis_server.running
