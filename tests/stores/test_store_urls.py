"""``open_store`` opens what a ``--store`` URL names, and never shows a password it carries."""

from __future__ import annotations

from pathlib import Path

import pytest

from confighub.exceptions import StoreUnavailable
from confighub.model import TracePoint
from confighub.stores import RedisStore, SqliteStore, open_store
from confighub.stores._urls import REDIS_PASSWORD_ENV


def test_sqlite_url_with_a_relative_path_opens_a_store_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sqlite:hub.db is a SqliteStore on hub.db in the working directory."""
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:hub.db")
    assert isinstance(store, SqliteStore)
    with store:
        store.create(TracePoint("a", "app.py", 1))
    with SqliteStore(tmp_path / "hub.db") as again:
        assert [tp.id for tp in again.tracepoints] == ["a"]


def test_sqlite_url_with_an_absolute_path_and_any_case_of_scheme(tmp_path: Path) -> None:
    """SQLITE:/abs/path opens that file: schemes are case-insensitive."""
    store = open_store(f"SQLITE:{tmp_path / 'hub.db'}")
    assert isinstance(store, SqliteStore)
    assert store.path == tmp_path / "hub.db"
    store.close()


def test_a_sqlite_url_without_a_path_or_with_slashes_is_refused() -> None:
    """sqlite: alone names no file; sqlite:///x is read differently by other tools: both refused."""
    with pytest.raises(ValueError, match="names no file: use sqlite:PATH"):
        open_store("sqlite:")
    with pytest.raises(ValueError, match="without //"):
        open_store("sqlite:///var/lib/hub.db")


def test_a_store_that_cannot_open_raises_store_unavailable(tmp_path: Path) -> None:
    """Open errors pass through as StoreUnavailable, not ValueError."""
    with pytest.raises(StoreUnavailable, match="does not exist"):
        open_store(f"sqlite:{tmp_path / 'missing' / 'hub.db'}")


@pytest.mark.parametrize(
    ("url", "secrets"),
    [
        ("redis://alice:hunter2@cache:6379/0", ["alice", "hunter2"]),
        ("rediss://:p%40ss@cache:6380?password=hunter2", ["p%40ss", "hunter2"]),
    ],
)
def test_a_redis_url_opens_a_redis_store_that_shows_no_password(
    url: str, secrets: list[str]
) -> None:
    """redis:// and rediss:// are a RedisStore, not yet connected; no userinfo or query shows."""
    store = open_store(url)
    assert isinstance(store, RedisStore)
    assert not store.available
    shown = f"{store!r} {store.problem}"
    assert "cache" in shown
    for secret in secrets:
        assert secret not in shown


@pytest.mark.parametrize(
    ("url", "secrets"),
    [
        ("redis://bob:pa/ss@w@cache", ["bob", "pa/ss", "ss@w"]),
        ("redis://carol:s3cret@cache:port/0", ["carol", "s3cret"]),
        ("redis://dave:s3cret@/0", ["dave", "s3cret"]),
    ],
)
def test_a_malformed_redis_url_is_refused_without_its_password(
    url: str, secrets: list[str]
) -> None:
    """A Redis URL that names no host or no numeric port is a ValueError showing no secret."""
    with pytest.raises(ValueError, match="redis://HOST:PORT/DB") as caught:
        open_store(url)
    for secret in secrets:
        assert secret not in str(caught.value)


def test_a_redis_password_comes_from_the_environment_when_the_url_has_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CONFIGHUB_REDIS_PASSWORD keeps the password out of the URL (and process listings)."""
    monkeypatch.setenv(REDIS_PASSWORD_ENV, "from-env")
    store = open_store("redis://cache:6379/0")
    assert isinstance(store, RedisStore)
    assert store._link._password == "from-env"
    with_password = open_store("redis://:in-url@cache:6379/0")
    assert isinstance(with_password, RedisStore)
    assert with_password._link._password is None  # redis-py reads the URL's own


def test_a_seed_is_refused_for_a_store_that_cannot_be_emptied(tmp_path: Path) -> None:
    """--seed is for Redis: a SQLite file is never found empty by accident."""
    with pytest.raises(ValueError, match="a seed is for a redis:// store"):
        open_store(f"sqlite:{tmp_path / 'hub.db'}", seed=[])


@pytest.mark.parametrize(
    "url", ["postgres://admin:s3cret@db/hub", "hub.db", "file:hub.db?key=s3cret", ""]
)
def test_other_urls_name_the_schemes_accepted_and_show_no_password(url: str) -> None:
    """Any other URL is a ValueError naming sqlite:PATH, with no secret of the URL in it."""
    with pytest.raises(ValueError, match="use sqlite:PATH") as caught:
        open_store(url)
    assert "s3cret" not in str(caught.value)
    assert "admin" not in str(caught.value)
