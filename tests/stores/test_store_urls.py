"""``open_store`` opens what a ``--store`` URL names, and never shows a password it carries."""

from __future__ import annotations

from pathlib import Path

import pytest

from confighub.exceptions import StoreUnavailable
from confighub.model import TracePoint
from confighub.stores import SqliteStore, open_store


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
        ("redis://bob:pa/ss@w@cache", ["bob", "pa/ss", "ss@w"]),
    ],
)
def test_redis_urls_are_not_supported_yet_and_show_no_password(
    url: str, secrets: list[str]
) -> None:
    """A redis:// or rediss:// URL is named as still to come; no userinfo or query is shown."""
    with pytest.raises(ValueError, match="stores are not supported yet; use sqlite:PATH") as caught:
        open_store(url)
    message = str(caught.value)
    assert "cache" in message
    for secret in secrets:
        assert secret not in message


@pytest.mark.parametrize(
    "url", ["postgres://admin:s3cret@db/hub", "hub.db", "file:hub.db?key=s3cret", ""]
)
def test_other_urls_name_the_schemes_accepted_and_show_no_password(url: str) -> None:
    """Any other URL is a ValueError naming sqlite:PATH, with no secret of the URL in it."""
    with pytest.raises(ValueError, match="use sqlite:PATH") as caught:
        open_store(url)
    assert "s3cret" not in str(caught.value)
    assert "admin" not in str(caught.value)
