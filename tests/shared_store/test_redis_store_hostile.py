"""RedisStore and what it did not write: values, log entries and names that are not its own.

Redis is shared; anyone with its password can write into a namespace. What does not
read as a tracepoint is logged and left out, never served and never a crash; the rest
is served. A password, in the URL or given apart, never shows in what the store says.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import pytest

from confighub.exceptions import StoreUnavailable
from confighub.model import TracePoint, config_hash
from confighub.stores import RedisStore
from tests.support.redis_server import RedisServer
from tests.support.redis_stores import keys, raw_writes, running, same_config, stored
from tests.support.waiting import wait_until

A = TracePoint("a", "app.py", 1)
B = TracePoint("b", "app.py", 2)
C = TracePoint("c", "lib.py", 3)
FOLLOWED = 10.0
"""How long a store may take to follow a write (a failed entry makes it wait a retry)."""
PASSWORD = "s3cret-Pa55"


def _deep(depth: int) -> str:
    return '{"ID":"deep","path":"a.py","line_number":1,"targeting":{"k":' + (
        "[" * depth + "]" * depth + "}}"
    )


PLANTED = {
    "junk": "0 this is not json",
    "no-position": '{"ID":"no-position","path":"a.py","line_number":1}',
    "other-id": '7 {"ID":"someone-else","path":"a.py","line_number":1}',
    "invalid": '8 {"ID":"invalid","path":"","line_number":1}',
    "huge": '9 {"ID":"huge","path":"' + "x" * (2 * 1024 * 1024) + '","line_number":1}',
    "deep": "10 " + _deep(200_000),
    "fairly-deep": "11 " + _deep(5_000),
    "list": "12 [1, 2, 3]",
}
"""Values planted under tracepoint ids, each one no tracepoint for its own reason."""


def left_out(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The messages of tracepoints logged as left out."""
    return [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]


def test_values_planted_in_redis_are_left_out_and_the_rest_served(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Junk, a wrong id, an invalid, a huge and a deep value: each logged, none served."""
    with running(redis_server.url) as writer:
        writer.set([A, B])
        with redis_server.client() as client:
            client.hset(keys("confighub")["tp"], mapping=PLANTED)
        with caplog.at_level(logging.WARNING, "confighub"), running(redis_server.url) as reader:
            assert reader.tracepoints == (A, B)
            assert reader.hash == config_hash((A, B))
            assert reader.available
            assert reader.problem is None
            messages = left_out(caplog)
            # The store goes on: a write through it, and one through another, are served.
            assert reader.create(C).tracepoints == (A, B, C)
            same_config(reader, writer)
        assert len(messages) == len(PLANTED), messages
        for tp_id in PLANTED:
            assert any(f"tracepoint {tp_id!r} left out" in m for m in messages), tp_id
        assert all(len(message) < 2000 for message in messages)


def test_values_planted_through_the_change_log_are_left_out_as_they_come(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The write script run with bad JSON: a follower leaves each value out, serves the rest."""
    with caplog.at_level(logging.WARNING, "confighub"), running(redis_server.url) as follower:
        follower.set([A])
        planted = [("create", tp_id, value.partition(" ")[2]) for tp_id, value in PLANTED.items()]
        with redis_server.client() as client:
            raw_writes(client, "confighub", [*planted, stored("create", B)], log_length=100)
        wait_until(lambda: follower.tracepoints == (A, B), "the follower to serve b", FOLLOWED)
        assert follower.available
        assert len(left_out(caplog)) == len(PLANTED)


def test_a_replace_writes_over_a_value_that_was_left_out(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A tracepoint put under an id whose value was junk is served: the junk is gone."""
    with running(redis_server.url) as store:
        store.set([A])
        with redis_server.client() as client:
            client.hset(keys("confighub")["tp"], "junk", PLANTED["junk"])
        fixed = TracePoint("junk", "fixed.py", 4)
        store.replace(fixed)
        assert store.tracepoints == (A, fixed)


def test_log_entries_that_are_not_changes_do_not_stop_the_follower(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Entries without a number, with a bad one or with none of the fields: it goes on following."""
    with (
        caplog.at_level(logging.WARNING, "confighub"),
        running(redis_server.url) as follower,
        running(redis_server.url) as writer,
    ):
        follower.set([A])
        with redis_server.client() as client:
            log = keys("confighub")["log"]
            client.xadd(log, {"seq": "2", "tenant": "", "rev": "junk", "op": "create"})
            client.xadd(log, {"hello": "world"})
            client.xadd(log, {"seq": "x" * 10_000})
        writer.create(B)
        writer.create(C)
        wait_until(lambda: follower.tracepoints == (A, B, C), "the follower to go on", FOLLOWED)
        assert follower.available
    assert not [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert [r for r in caplog.records if "is no change" in r.getMessage()]


def test_a_planted_revision_that_is_no_number_does_not_stop_a_store(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A tenant's revision written by hand as text: that tenant is left out, the rest served."""
    with running(redis_server.url) as writer:
        writer.set([A])
        with redis_server.client() as client:
            client.hset(keys("confighub")["revs"], "intruder", "not-a-number")
            client.hset(keys("confighub", "intruder")["tp"], "x", "0 {}")
        with (
            caplog.at_level(logging.WARNING, "confighub"),
            running(redis_server.url, timeout=1) as reader,
        ):
            assert reader.tracepoints == (A,)
            assert reader.tenant("intruder").tracepoints == ()
            writer.create(B)
            same_config(writer, reader)
        assert any("'intruder' left out" in r.getMessage() for r in caplog.records)


def test_a_change_counter_that_is_no_number_fails_the_start_and_leaves_it_closed(
    redis_server: RedisServer,
) -> None:
    """``{ns}:seq`` set by hand to text: start() is StoreUnavailable; a write says "not started"."""
    with redis_server.client() as client:
        client.set(keys("confighub")["initialized"], "epoch")
        client.set(keys("confighub")["seq"], "junk")
    store = RedisStore(redis_server.url, timeout=1)
    with pytest.raises(StoreUnavailable, match="junk"):
        store.start()
    assert not store.available
    with pytest.raises(StoreUnavailable, match="not started"):
        store.create(A)
    store.close()


@pytest.mark.parametrize(
    "namespace", ["", "has space", "{tag}", "a:b", "x" * 65, "ünï", "a\nb", "*"]
)
def test_a_namespace_with_characters_outside_the_rule_is_refused(
    redis_server: RedisServer, namespace: str
) -> None:
    """Letters, digits, '_', '.' and '-', 1 to 64: anything else is a ValueError, before Redis."""
    with pytest.raises(ValueError, match="namespace must be 1-64 letters"):
        RedisStore(redis_server.url, namespace=namespace)


def test_a_password_in_the_url_works_and_never_shows(tmp_path: Path) -> None:
    """redis://:PASSWORD@… and redis://default:PASSWORD@… connect; no repr or error shows it."""
    with RedisServer(tmp_path / "redis", password=PASSWORD) as secured:
        rest = secured.url.removeprefix("redis://")
        for url in (f"redis://:{PASSWORD}@{rest}", f"redis://default:{PASSWORD}@{rest}"):
            with running(url, timeout=1) as store:
                store.set([A])
                assert store.available
                assert store.initialized
                assert PASSWORD not in repr(store)
                secured.kill()
                wait_until(functools.partial(lambda s: not s.available, store), "Redis gone")
                assert PASSWORD not in str(store.problem)
                with pytest.raises(StoreUnavailable) as caught:
                    store.create(B)
                assert PASSWORD not in str(caught.value)
                assert PASSWORD not in repr(caught.value)
                secured.start()


def test_a_password_given_apart_works(tmp_path: Path) -> None:
    """``password=`` connects to a protected Redis; two stores that way share the config."""
    with (
        RedisServer(tmp_path / "redis", password=PASSWORD) as secured,
        running(secured.url, password=PASSWORD) as first,
        running(secured.url, password=PASSWORD) as second,
    ):
        first.set([A, B])
        same_config(first, second)
        assert PASSWORD not in repr(first)


@pytest.mark.parametrize("where", ["url", "argument", "none"])
def test_a_wrong_password_is_refused_at_start_without_showing_it(
    tmp_path: Path, where: str
) -> None:
    """A wrong or missing password: StoreUnavailable at start(), showing neither password."""
    wrong = "Wr0ng-guess"
    with RedisServer(tmp_path / "redis", password=PASSWORD) as secured:
        url = secured.url
        password = wrong if where == "argument" else None
        if where == "url":
            url = url.replace("redis://", f"redis://:{wrong}@")
        store = RedisStore(url, password=password, timeout=1)
        with pytest.raises(StoreUnavailable) as caught:
            store.start()
        message = f"{caught.value} {caught.value!r} {store!r} {store.problem}"
        assert "127.0.0.1" in str(caught.value)
        for secret in (wrong, PASSWORD):
            assert secret not in message
        assert not store.available
        store.close()
