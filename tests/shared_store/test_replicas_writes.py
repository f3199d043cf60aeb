"""Three HubServer replicas on one real Redis: writes through any reach all, none is lost.

Each replica has a ``RedisStore`` of its own on the same URL and namespace, as three
``confighub serve --store redis://…`` behind a load balancer have; clients poll over
real gRPC channels and write over real HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from typing import NamedTuple

import pytest
from deepproto.proto.poll.v1 import poll_pb2

from confighub import TracePoint
from tests.http.conftest import call
from tests.support.polling import ids
from tests.support.redis_server import RedisServer
from tests.support.replicas import (
    Replica,
    converged,
    followers,
    held_polls,
    poll_once,
    replicas,
    start_replica,
)
from tests.support.waiting import TIMEOUT

CHECKOUT = TracePoint("checkout", "shop/checkout.py", 42)
CART = TracePoint("cart", "shop/cart.py", 17)
PAY = TracePoint("pay", "shop/pay.py", 7)

WRITERS = 8
IDS_PER_WRITER = 3
STEPS = 24
PATH = "shop/writers.py"


@pytest.fixture
def group(redis_server: RedisServer) -> Iterator[list[Replica]]:
    """Three replicas of ``redis_server``, its config written whole through the first."""
    with replicas(redis_server.url) as started:
        started[0].client.set([CHECKOUT, CART])
        yield started


def test_a_write_through_one_replica_reaches_held_polls_on_the_others(
    redis_server: RedisServer, group: list[Replica]
) -> None:
    """A POST to A wakes a GrpcPollSource held on B and a raw poll held on C: its tracepoint."""
    a, b, c = group
    before = converged(group, redis_server.url)
    with followers([b]) as [on_b], held_polls([c], before) as [on_c]:
        written = a.client.create(PAY)
        seen = on_b.changes.wait_for(lambda seen: len(seen) == 2, "the write, through B's hold")
        answer = on_c.result(TIMEOUT)
    assert written.hash != before
    assert seen[1].new_hash == written.hash
    assert PAY in seen[1].new
    assert answer.response_type == poll_pb2.UPDATE
    assert answer.current_hash == written.hash
    assert ids(answer) == {CHECKOUT.id, CART.id, PAY.id}


class Acknowledged(NamedTuple):
    """A write a replica answered 2xx: the id and its line after it (None: deleted)."""

    tp_id: str
    line: int | None


def _write_own_ids(writer: int, group: list[Replica]) -> list[Acknowledged]:
    """Create, replace and delete this writer's ids through each replica in turn.

    Every fourth write names the config's hash read just before (If-Match): it may be
    refused (412) when another writer got in between, and is then not written. Any
    other answer than 200 fails the test. Returns the writes acknowledged, in order.
    """
    held: dict[str, int] = {}
    done: list[Acknowledged] = []
    for step in range(1, STEPS + 1):
        replica = group[(writer + step) % len(group)]
        base = f"{replica.http_url}/api/tracepoints"
        tp_id = f"w{writer}-{step % IDS_PER_WRITER}"
        line: int | None = writer * 1000 + step
        headers = {}
        if step % 4 == 0:
            headers["If-Match"] = call("GET", base).headers["ETag"]
        body = {"tracepoint": {"ID": tp_id, "path": PATH, "lineNumber": line}}
        if tp_id not in held:
            answer = call("POST", base, body=body, headers=headers)
        elif step % 3 == 0:
            answer = call("DELETE", f"{base}/{tp_id}", headers=headers)
            line = None
        else:
            answer = call("PUT", f"{base}/{tp_id}", body=body, headers=headers)
        if answer.status == 412 and headers:
            continue
        assert answer.status == 200, (
            f"{tp_id} through {replica.name}: {answer.status} {answer.body!r}"
        )
        done.append(Acknowledged(tp_id, line))
        if line is None:
            del held[tp_id]
        else:
            held[tp_id] = line
    return done


def test_concurrent_writers_through_three_replicas_lose_no_acknowledged_write(
    redis_server: RedisServer, group: list[Replica]
) -> None:
    """8 threads writing their own ids through A, B and C: each id ends as last acknowledged."""
    with futures.ThreadPoolExecutor(WRITERS) as pool:
        running = [pool.submit(_write_own_ids, writer, group) for writer in range(WRITERS)]
        results = [future.result(TIMEOUT * 3) for future in running]
    expected: dict[str, int | None] = {CHECKOUT.id: CHECKOUT.line, CART.id: CART.line}
    for done in results:
        for write in done:
            expected[write.tp_id] = write.line
    wanted = {tp_id: line for tp_id, line in expected.items() if line is not None}
    final = converged(group, redis_server.url)
    listings = [replica.listing() for replica in group]
    for replica, listing in zip(group, listings, strict=True):
        assert listing.hash == final, replica.name
        assert {tp.id: tp.line for tp in listing.tracepoints} == wanted, replica.name
    # The same tracepoints in the same order everywhere, not just the same hash.
    assert len({listing.tracepoints for listing in listings}) == 1
    written = [write for done in results for write in done]
    assert any(write.line is None for write in written), "no delete was acknowledged"
    assert len(written) > WRITERS * STEPS // 2


def test_a_client_moved_to_another_replica_gets_no_change(
    redis_server: RedisServer, group: list[Replica]
) -> None:
    """A poll carrying A's hash is NO_CHANGE on B and C, whichever way each built the config.

    B was stopped through the writes and started anew (it read the config whole), C
    restarted half way (read whole, then followed the log), A followed every change.
    """
    a, b, c = group
    url = redis_server.url
    b.stop()
    a.client.create(PAY)
    a.client.put(TracePoint("cart", "shop/cart.py", 18))
    a.client.delete("checkout")
    c.stop()
    group[2] = c = start_replica(url, "C")
    a.client.create(TracePoint("checkout", "shop/checkout.py", 43))
    a.client.delete("pay")
    a.client.put(PAY)
    group[1] = b = start_replica(url, "B")
    final = converged(group, url)
    from_a = poll_once(a)
    assert from_a.current_hash == final
    for other in (b, c):
        moved = poll_once(other, from_a.current_hash)
        assert moved.response_type == poll_pb2.NO_CHANGE, other.name
        assert moved.current_hash == final
        assert poll_once(a, poll_once(other).current_hash).response_type == poll_pb2.NO_CHANGE
    assert len({replica.listing().tracepoints for replica in group}) == 1
    # Held on B with A's hash: B takes it as current, and holds the poll.
    with held_polls([b], from_a.current_hash) as [held]:
        assert not held.done()


def test_an_etag_from_one_replica_is_honoured_by_another_that_lags(
    group: list[Replica],
) -> None:
    """If-Match with the hash A answered a write with is a 200 on B, at once, every time."""
    a, b, _ = group
    for line in range(1, 31):
        written = a.client.put(TracePoint("cart", "shop/cart.py", line))
        moved = b.client.put(TracePoint("pay", "shop/pay.py", line), if_match=written.hash)
        assert moved.hash != written.hash
        assert a.client.delete("pay", if_match=moved.hash).hash == written.hash
