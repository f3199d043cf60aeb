"""A replica that dies and comes back, and a store opened only to read what Redis holds.

The replica here is a real ``confighub serve --store redis://…`` process, killed with
SIGKILL (a crash, the OOM killer) while writes go on through the others: started
again, it reads the whole config before it serves, so its first answer is the
current config.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from deepproto.proto.poll.v1 import poll_pb2, poll_pb2_grpc
from grpc import insecure_channel

from confighub import TracePoint
from confighub.manage import ManagementClient
from confighub.stores import RedisStore
from tests.support.polling import poll
from tests.support.redis_server import RedisServer
from tests.support.replica_writes import PutWriter
from tests.support.replicas import Replica, converged, replicas
from tests.support.serve_process import ServeProcess, serving
from tests.support.waiting import TIMEOUT, wait_until

CHECKOUT = TracePoint("checkout", "shop/checkout.py", 42)
IDS = ("order-0", "order-1", "order-2")
CLOSE_ATTEMPTS = 30
"""Stores started and closed at once: one close in three hung, before detach() cancelled again."""
CLOSE_TIMEOUT = 2.0
"""Seconds a close may take: it takes about a millisecond."""


@pytest.fixture
def pair(redis_server: RedisServer) -> Iterator[list[Replica]]:
    """Two in-process replicas of ``redis_server``, its config written whole through the first."""
    with replicas(redis_server.url, 2) as started:
        started[0].client.set([CHECKOUT])
        yield started


def _serve(url: str) -> list[str]:
    return ["--store", url, "--port", "0", "--http-port", "0"]


def _polled_hash(child: ServeProcess, current_hash: str) -> tuple[int, str]:
    """The answer type and hash of one poll of ``child`` by a client holding ``current_hash``."""
    with insecure_channel(child.target) as channel:
        answer = poll(poll_pb2_grpc.PollConfigStub(channel), current_hash, timeout=TIMEOUT)
    return answer.response_type, answer.current_hash


def test_a_replica_killed_and_started_again_serves_the_current_hash_at_once(
    redis_server: RedisServer, pair: list[Replica]
) -> None:
    """SIGKILLed while A and B take writes, `serve` started again first answers their hash."""
    url = redis_server.url
    with serving(*_serve(url)) as child:
        before = converged(pair, url)
        wait_until(
            lambda: ManagementClient(child.http_url).list().hash == before, "the child to follow"
        )
        with PutWriter(pair, IDS) as writer:
            writer.wait_for_acknowledged(10, "writes while the child serves")
            child.kill()
            writer.wait_for_acknowledged(20, "writes while the child is dead")
    assert not writer.refused(), writer.refused()
    current = converged(pair, url)
    assert current != before
    with serving(*_serve(url)) as again:
        first = ManagementClient(again.http_url).list()
        polled = _polled_hash(again, current)
    assert first.hash == current
    assert f"(hash {current[:8]})" in again.banner
    assert polled == (poll_pb2.NO_CHANGE, current)
    assert [replica.listing().hash for replica in pair] == [current, current]


def test_a_redis_store_closed_as_it_starts_stops(redis_server: RedisServer) -> None:
    """A RedisStore started and at once closed, as a one-off reader does, closes every time."""
    with RedisStore(redis_server.url).start() as writer:
        writer.set([CHECKOUT])
    for attempt in range(1, CLOSE_ATTEMPTS + 1):
        store = RedisStore(redis_server.url).start()
        loop = store._link.loop
        assert loop is not None
        closing = threading.Thread(target=store.close, daemon=True)
        closing.start()
        closing.join(CLOSE_TIMEOUT)
        if closing.is_alive():
            # Clean up for the tests after this one: a second cancel ends the follower.
            loop.call_soon_threadsafe(_cancel_followers)
            closing.join(CLOSE_TIMEOUT)
            pytest.fail(
                f"RedisStore.close() right after start() hung (attempt {attempt} of"
                f" {CLOSE_ATTEMPTS}); a second cancel of its follower ended it:"
                f" {not closing.is_alive()}"
            )


def _cancel_followers() -> None:
    for task in asyncio.all_tasks():
        if task.get_name() == "confighub-redis-follower":
            task.cancel()
