"""Three replicas whose Redis comes back empty: the last good config is kept, never emptied.

A Redis that lost its data (no persistence, a flushed database, a new instance behind
the same address) holds no config: the replicas must not serve that as an empty one.
They keep serving what they had, say they are not initialized, and refuse single
writes until a whole config is written: by ``confighub tp apply``, or by a replica
started with a seed. Seeds that race leave one of them whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent import futures
from pathlib import Path

import pytest
import redis
from deepproto.proto.poll.v1 import poll_pb2

from confighub import TracePoint, config_hash
from confighub.cli import main
from confighub.files import dump_tracepoints
from confighub.stores import RedisStore
from tests.http.conftest import call
from tests.support.redis_server import RedisServer
from tests.support.replicas import (
    Follower,
    Replica,
    converged,
    followers,
    poll_once,
    replicas,
    wait_followers,
    wait_ready,
)
from tests.support.waiting import TIMEOUT, wait_until

CHECKOUT = TracePoint("checkout", "shop/checkout.py", 42)
CART = TracePoint("cart", "shop/cart.py", 17)
PAY = TracePoint("pay", "shop/pay.py", 7)
WANTED = (TracePoint("cart", "shop/cart.py", 18), TracePoint("audit", "shop/audit.py", 3))
SEED = (TracePoint("seeded", "shop/seeded.py", 1), CHECKOUT)
OTHER_SEED = (TracePoint("seeded", "shop/seeded.py", 2), TracePoint("other", "shop/other.py", 5))
RACES = 3
"""The start, then two emptyings: each a race of the two seeds."""
UNINITIALIZED = "holds no confighub config in namespace 'confighub': it is not initialized"


def _never_emptied(clients: Sequence[Follower]) -> None:
    """Check that no client was ever handed an empty config."""
    for follower in clients:
        assert all(change.new for change in follower.changes.items), follower.replica


def _refuses_a_single_write(replica: Replica) -> str:
    """POST one tracepoint to ``replica``: a 503; return what it said."""
    body = {"tracepoint": {"ID": "one", "path": "shop/one.py", "lineNumber": 1}}
    answer = call("POST", f"{replica.http_url}/api/tracepoints", body=body)
    assert answer.status == 503, (replica.name, answer)
    return answer.error


@pytest.fixture
def group(redis_server: RedisServer) -> Iterator[list[Replica]]:
    """Three replicas of ``redis_server`` (which keeps no data), none with a seed."""
    with replicas(redis_server.url) as started:
        yield started


def test_an_emptied_redis_keeps_the_last_good_config_until_tp_apply(
    redis_server: RedisServer,
    group: list[Replica],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Emptied, each replica serves its config, not ready, not initialized; apply re-seeds."""
    url = redis_server.url
    group[0].client.set([CHECKOUT, CART])
    group[1].client.create(PAY)
    good = converged(group, url)
    with followers(group) as clients:
        redis_server.restart(empty=True)
        reasons = wait_ready(group, ready=False, reason=UNINITIALIZED)
        for replica in group:
            listing = replica.listing()
            assert (listing.hash, listing.initialized) == (good, False), replica.name
            assert {tp.id for tp in listing.tracepoints} == {CHECKOUT.id, CART.id, PAY.id}
            assert poll_once(replica, good).response_type == poll_pb2.NO_CHANGE
            newcomer = poll_once(replica)
            assert (newcomer.response_type, newcomer.current_hash) == (poll_pb2.UPDATE, good)
            assert replica.store_ready() == 0
            refusal = _refuses_a_single_write(replica)
            assert refusal == (
                f"Redis at {url} is unavailable: namespace 'confighub' is not initialized:"
                " write the whole config (confighub tp apply FILE, or PUT /api/tracepoints)"
                " or start a server with --seed FILE"
            )
        wait_followers(clients, good)
        file = tmp_path / "wanted.yaml"
        file.write_text(dump_tracepoints(WANTED))
        assert main(["tp", "apply", str(file), "--server", group[2].http_url]) == 0
        wait_ready(group)
        applied = converged(group, url, config_hash(WANTED))
        wait_followers(clients, applied)
        _never_emptied(clients)
    for reason in reasons:
        assert reason.startswith(f"Redis at {url} {UNINITIALIZED}"), reason
        assert "confighub tp apply FILE" in reason
    out = capsys.readouterr().out
    assert "the server's store was not initialized: it is now seeded with 2 tracepoints" in out
    for replica in group:
        listing = replica.listing()
        assert listing.tracepoints == WANTED, replica.name
        assert listing.initialized, replica.name
        assert replica.store_ready() == 1


def test_a_replica_with_a_seed_writes_it_when_redis_comes_back_empty(
    redis_server: RedisServer,
) -> None:
    """The seeded replica writes its seed to an emptied Redis, and every replica serves it."""
    url = redis_server.url
    with replicas(url, seeds=[SEED]) as group:
        seeded = converged(group, url, config_hash(SEED))
        group[2].client.create(PAY)
        with followers(group) as clients:
            redis_server.restart(empty=True)
            assert converged(group, url, seeded) == seeded
            wait_ready(group)
            wait_followers(clients, seeded)
            _never_emptied(clients)
        for replica in group:
            listing = replica.listing()
            assert (listing.tracepoints, listing.initialized) == (SEED, True), replica.name


def test_replicas_with_different_seeds_racing_leave_one_whole_seed(
    redis_server: RedisServer,
) -> None:
    """Two replicas seeding at once, at start and after each emptying: one seed, whole, wins."""
    url = redis_server.url
    seeds = {config_hash(SEED): SEED, config_hash(OTHER_SEED): OTHER_SEED}
    winners = []
    with replicas(url, seeds=[SEED, OTHER_SEED]) as group:
        for round_number in range(RACES):
            if round_number:
                group[2].client.create(PAY)  # so that an emptying is seen to change the config
                converged(group, url)
                redis_server.restart(empty=True)
            winner = converged(group, url)
            wait_ready(group)
            assert winner in seeds, f"round {round_number}: neither seed is served"
            for replica in group:
                assert replica.listing().tracepoints == seeds[winner], replica.name
            winners.append(winner)
    assert len(winners) == RACES


def _postponed_scripts(admin: redis.Redis) -> int:
    """How many clients Redis holds back with a script, under CLIENT PAUSE."""
    clients = admin.client_list()
    return sum(1 for c in clients if c["cmd"] == "evalsha" and "b" in c["flags"])


def test_a_write_naming_the_last_good_hash_is_refused_over_a_new_seed(
    redis_server: RedisServer, group: list[Replica]
) -> None:
    """If-Match of the config Redis lost, run just after another replica re-seeds: no mix.

    CLIENT PAUSE holds both writes in Redis, so that they run in the order they came:
    the whole config C writes, then B's PUT naming the hash B served before the emptying.
    """
    b, c = group[1], group[2]
    url = redis_server.url
    lost = b.client.set([CHECKOUT]).hash
    converged(group, url)
    redis_server.restart(empty=True)
    wait_ready(group, ready=False, reason=UNINITIALIZED)
    # An emptied Redis has no script cached either: the first run of each is refused
    # (NOSCRIPT) and sent again, behind the other. A write in another namespace, and one
    # refused here, cache both, so the two writes held back run in the order they came.
    with RedisStore(url, namespace="warm").start() as warming:
        warming.set([])
    _refuses_a_single_write(b)
    with redis_server.client() as admin, futures.ThreadPoolExecutor(2) as pool:
        admin.execute_command("CLIENT", "PAUSE", str(int(TIMEOUT * 1000)), "WRITE")
        try:
            seeding = pool.submit(c.client.set, [PAY])
            wait_until(lambda: _postponed_scripts(admin) == 1, "C's set to wait in Redis")
            body = {"tracepoint": {"path": "shop/cart.py", "lineNumber": 99}}
            headers = {"If-Match": f'"{lost}"'}
            stale = pool.submit(
                call, "PUT", f"{b.http_url}/api/tracepoints/cart", body=body, headers=headers
            )
            wait_until(lambda: _postponed_scripts(admin) == 2, "B's write to wait in Redis")
        finally:
            admin.execute_command("CLIENT", "UNPAUSE")
        seeded = seeding.result(TIMEOUT).hash
        answer = stale.result(TIMEOUT)
    final = converged(group, url)
    assert answer.status in {412, 503}, f"B wrote over C's new config: {answer}"
    assert [tp.id for tp in b.listing().tracepoints] == [PAY.id]
    assert final == seeded == config_hash([PAY])
