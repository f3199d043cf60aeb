"""RedisStore through the faults of a real redis-server: killed, restarted, emptied, flushed.

Through each a store keeps serving its last good config and says why in ``problem``;
writes are refused quickly, never half made; once Redis is back the store ends where
Redis is, whether it resumes from the change log or has to read everything again.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from confighub.exceptions import StoreUnavailable
from confighub.model import TracePoint
from confighub.stores import MemoryStore, StoreState
from tests.support.redis_server import RedisServer
from tests.support.redis_stores import keys, raw_writes, running, same_config, stored
from tests.support.threads import in_thread
from tests.support.waiting import wait_until

A = TracePoint("a", "app.py", 1)
B = TracePoint("b", "app.py", 2)
C = TracePoint("c", "lib.py", 3)
SEED = (TracePoint("seeded", "seed.py", 1), TracePoint("also-seeded", "seed.py", 2))
NOTICED = 10.0
"""How long a store may take to notice a fault (about a second: one quiet XREAD)."""
ANSWERED = 10.0
"""How long a write to a store on an unreachable Redis may take to be refused (its timeout=1)."""


def tp(n: int, line: int = 1) -> TracePoint:
    return TracePoint(f"tp{n}", "app.py", line)


@pytest.fixture
def persistent(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server that keeps its data across a kill or a restart."""
    with RedisServer(tmp_path / "redis", persistent=True) as running_server:
        yield running_server


def refused_in_time(write: Callable[[], object]) -> BaseException:
    """The error ``write`` raised, which it must raise within ``ANSWERED`` seconds."""
    outcome: list[BaseException | object] = []

    def attempt() -> None:
        try:
            outcome.append(write())
        except BaseException as err:
            outcome.append(err)

    thread = in_thread(attempt)
    thread.join(ANSWERED)
    assert not thread.is_alive(), f"a write was not answered within {ANSWERED} s"
    (result,) = outcome
    assert isinstance(result, BaseException), f"the write was made: {result!r}"
    return result


def test_a_killed_redis_keeps_the_last_good_config_and_refuses_writes(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Killed: unavailable, the problem says unreachable, the config stays, writes fail fast."""
    with caplog.at_level(logging.ERROR, "confighub"), running(redis_server.url, timeout=1) as store:
        state = store.set([A, B])
        redis_server.kill()
        wait_until(lambda: not store.available, "the store to notice Redis is gone", NOTICED)
        assert store.problem is not None
        assert f"Redis at {redis_server.url} is unreachable since " in store.problem
        assert "serving the last good config" in store.problem
        assert store.state is state
        for write in (
            lambda: store.create(C),
            lambda: store.replace(C, expected_hash=state.hash),
            lambda: store.delete("a"),
            lambda: store.set([C]),
        ):
            assert isinstance(refused_in_time(write), StoreUnavailable)
        assert store.state is state
    outages = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(outages) == 1, outages
    assert outages[0].startswith(f"Redis at {redis_server.url} is unreachable since ")


def test_a_write_while_redis_is_killed_is_refused_before_the_store_noticed(
    redis_server: RedisServer,
) -> None:
    """A write that finds Redis gone before the follower did is a StoreUnavailable too."""
    with running(redis_server.url, timeout=1) as store:
        state = store.set([A])
        redis_server.kill()
        assert isinstance(refused_in_time(lambda: store.create(B)), StoreUnavailable)
        assert store.state is state


def test_a_redis_that_stops_answering_fails_a_write_in_time(redis_server: RedisServer) -> None:
    """Paused (CLIENT PAUSE): a write is refused within its bound (3 timeouts), never hangs."""
    with running(redis_server.url, timeout=0.2) as store:
        store.set([A])
        with redis_server.client() as client:
            client.execute_command("CLIENT", "PAUSE", "1500", "ALL")
        # "may have been made", or "unreachable" if the follower's read timed out first.
        assert isinstance(refused_in_time(lambda: store.create(B)), StoreUnavailable)
        # Whether Redis ran it or dropped it with the connection, the store ends where Redis is.
        with running(redis_server.url) as after_the_pause:
            same_config(after_the_pause, store)


def test_after_a_restart_with_its_data_every_change_made_meanwhile_arrives_in_order(
    persistent: RedisServer,
) -> None:
    """Back with its data: the store follows on, and serves each change another made, in order."""
    with running(persistent.url) as follower:
        follower.set([A])
        served: list[StoreState] = []
        follower.subscribe(served.append)
        persistent.kill()
        wait_until(lambda: not follower.available, "the store to notice Redis is gone", NOTICED)
        assert follower.tracepoints == (A,)
        persistent.start()
        made: list[str] = [follower.hash]
        with running(persistent.url) as writer:
            for n in range(30):
                made.append(writer.create(tp(n)).hash)
                if n % 3 == 0:
                    made.append(writer.replace(tp(n - 1, line=n)).hash)
            same_config(writer, follower)
            wait_until(lambda: follower.available, "the store to say Redis is back", NOTICED)
            assert follower.problem is None
            assert follower.tracepoints == writer.tracepoints
        # Each config served is one the writer made, in the order it made them.
        hashes = [state.hash for state in served]
        assert hashes[-1] == made[-1]
        positions = [made.index(served_hash) for served_hash in hashes]
        assert positions == sorted(positions)


def test_a_follower_cut_off_resumes_from_its_last_change(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Writes made while its connection was down come from the log, not by reading all again."""
    with caplog.at_level(logging.WARNING, "confighub"), running(redis_server.url) as follower:
        follower.set([A])
        model = MemoryStore([A])
        writes = [stored("create", tp(n)) for n in range(20)] + [stored("replace", tp(3, 9))]
        for n in range(20):
            model.create(tp(n))
        model.replace(tp(3, 9))
        with redis_server.client() as client:
            # One transaction: the follower is cut off before the first write, and cannot
            # read one until the last is made.
            raw_writes(
                client,
                "confighub",
                writes,
                log_length=1000,
                before=[("CLIENT", "KILL", "TYPE", "normal")],
            )
        wait_until(lambda: follower.hash == model.hash, "the follower to catch up", NOTICED)
        assert follower.tracepoints == model.tracepoints
        assert not [r for r in caplog.records if "reading the whole config again" in r.message]


def test_a_follower_behind_the_trimmed_log_reads_everything_again(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """200 changes made while it was cut off, a log of 10 kept: it reloads, and ends right."""
    with (
        caplog.at_level(logging.WARNING, "confighub"),
        running(redis_server.url, log_length=10) as follower,
    ):
        follower.set([A])
        model = MemoryStore([A])
        writes = []
        for n in range(200):
            change = ("replace", tp(n % 7, line=n)) if n % 5 else ("create", tp(100 + n))
            writes.append(stored(*change))
            getattr(model, change[0])(change[1])
        writes.append(("delete", "a", ""))
        model.delete("a")
        with redis_server.client() as client:
            raw_writes(client, "confighub", writes, before=[("CLIENT", "KILL", "TYPE", "normal")])
            (first_kept,) = client.xrange(keys("confighub")["log"], count=1)
        assert int(first_kept[1][b"seq"]) > 2  # the log no longer holds the follower's next
        wait_until(lambda: follower.hash == model.hash, "the follower to reload", NOTICED)
        assert follower.tracepoints == model.tracepoints
        assert follower.available
        gaps = [r.message for r in caplog.records if "reading the whole config again" in r.message]
        assert gaps, "the follower never noticed the gap"
        assert "the change log goes from change 1 to" in gaps[0]


def test_a_redis_restarted_empty_keeps_the_config_and_refuses_single_writes(
    redis_server: RedisServer,
) -> None:
    """Emptied: every store serves its last good config, uninitialized, until set re-seeds all."""
    with running(redis_server.url) as first, running(redis_server.url) as second:
        before = first.set([A, B])
        first.tenant("acme").set([C])
        same_config(first, second)
        same_config(first.tenant("acme"), second.tenant("acme"))
        redis_server.restart(empty=True)
        for store in (first, second):
            wait_until(functools.partial(lambda s: not s.initialized, store), "empty", NOTICED)
            assert store.available
            assert store.problem is not None
            assert "holds no confighub config" in store.problem
            assert "serving the last good config" in store.problem
        assert first.state is before
        assert second.tracepoints == (A, B)
        writes: list[Callable[[], object]] = [
            lambda: first.create(C),
            lambda: second.tenant("acme").replace(A),
        ]
        for write in writes:
            with pytest.raises(StoreUnavailable, match="not initialized"):
                write()
        with redis_server.client() as client:
            assert client.keys("*") == []
        second.set([C, A])
        same_config(second, first)
        assert first.tracepoints == (C, A)
        assert first.initialized
        # acme was not written whole since: it serves its last good config, refusing a
        # single write (which would make a subset of it), until a set.
        acme = first.tenant("acme")
        assert acme.tracepoints == (C,)
        assert not acme.initialized
        assert "lost their config" in str(first.problem)
        with pytest.raises(StoreUnavailable, match="lost its config"):
            acme.create(A)
        second.tenant("acme").set([B])
        same_config(second.tenant("acme"), acme)
        assert acme.initialized
        assert (first.problem, second.problem) == (None, None)
        acme.create(A)
        assert acme.tracepoints == (B, A)


def test_a_store_with_a_seed_seeds_again_after_redis_was_emptied(
    redis_server: RedisServer,
) -> None:
    """The seed is written whenever the namespace is found uninitialized, not only at start."""
    with running(redis_server.url, seed=SEED) as seeded, running(redis_server.url) as plain:
        assert seeded.tracepoints == SEED
        seeded.set([A])
        same_config(seeded, plain)
        redis_server.restart(empty=True)
        wait_until(lambda: plain.tracepoints == SEED, "the seed to be served again", NOTICED)
        same_config(plain, seeded)
        assert seeded.initialized
        assert plain.initialized
        assert plain.create(B).tracepoints == (*SEED, B)
        same_config(plain, seeded)


def test_a_flushall_without_a_restart_is_noticed(redis_server: RedisServer) -> None:
    """FLUSHALL keeps every connection: the store sees the mark gone within its next wait."""
    with running(redis_server.url) as store, running(redis_server.url) as other:
        state = store.set([A])
        same_config(store, other)
        with redis_server.client() as client:
            client.flushall()
        wait_until(lambda: not store.initialized, "the store to see the flush", NOTICED)
        assert store.state is state
        with pytest.raises(StoreUnavailable, match="not initialized"):
            store.create(B)
        other.set([B, C])
        same_config(other, store)
        assert store.tracepoints == (B, C)
        assert store.initialized


def test_a_flush_followed_at_once_by_a_new_config_is_followed(redis_server: RedisServer) -> None:
    """Flushed and set anew before the follower looked: the new epoch is read whole."""
    with running(redis_server.url) as store, running(redis_server.url) as other:
        store.set([tp(0)])
        for n in range(1, 5):
            store.create(tp(n))
        same_config(store, other)
        with redis_server.client() as client:
            client.flushall()
        other.set([A])
        other.create(B)
        same_config(other, store)
        assert store.tracepoints == (A, B)
