"""Three replicas while their Redis is stopped and started again with its data.

Redis keeps its data here (append-only, synced on every write), as a production Redis
with persistence does through a restart or a failover: the replicas must serve their
last good config meanwhile, say why they are not ready, refuse writes with a reason,
and afterwards resume where Redis is, with no acknowledged write lost.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from deepproto.proto.poll.v1 import poll_pb2

from confighub import ConfigChange, SourceState, TracePoint
from confighub.cli import main
from confighub.files import dump_tracepoints
from tests.http.conftest import call
from tests.support.redis_server import RedisServer
from tests.support.replica_writes import PutWriter, lines_of
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
from tests.support.waiting import wait_until

CHECKOUT = TracePoint("checkout", "shop/checkout.py", 42)
IDS = ("order-0", "order-1", "order-2", "order-3")


@pytest.fixture
def persistent(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server that keeps its data across a stop and a start."""
    with RedisServer(tmp_path / "redis", persistent=True) as running:
        yield running


@pytest.fixture
def group(persistent: RedisServer) -> Iterator[list[Replica]]:
    """Three replicas of ``persistent``, its config written whole through the first."""
    with replicas(persistent.url) as started:
        started[0].client.set([CHECKOUT])
        yield started


def _lines_only_grow(changes: Sequence[ConfigChange], ids: Sequence[str]) -> None:
    """Check that no config a client got holds an id at an older line than one before it."""
    latest: dict[str, int] = {}
    for change in changes:
        for tp_id, line in lines_of(change.new, ids).items():
            assert line >= latest.get(tp_id, 0), f"{tp_id} went back from {latest[tp_id]} to {line}"
            latest[tp_id] = line


def _served_from_memory(replica: Replica) -> None:
    """Check that ``replica`` answers polls and reads from what it holds, Redis being away."""
    listing = replica.listing()
    whole = poll_once(replica)
    assert whole.response_type == poll_pb2.UPDATE
    assert whole.current_hash == listing.hash
    assert poll_once(replica, listing.hash).response_type == poll_pb2.NO_CHANGE


@pytest.mark.parametrize("outage", ["stop", "kill"])
def test_redis_stopped_and_started_with_its_data_loses_no_acknowledged_write(
    persistent: RedisServer, group: list[Replica], outage: str
) -> None:
    """Through a Redis outage the replicas serve, say why, refuse writes, then all converge."""
    url = persistent.url
    with followers(group) as clients, PutWriter(group, IDS) as writer:
        writer.wait_for_acknowledged(12, "writes before the outage")
        getattr(persistent, outage)()
        reasons = wait_ready(group, ready=False, reason="unreachable")
        refused = writer.wait_for_refused(6, "writes refused during the outage")
        for replica in group:
            _served_from_memory(replica)
            body = {"tracepoint": {"ID": "late", "path": "shop/late.py", "lineNumber": 1}}
            answer = call("POST", f"{replica.http_url}/api/tracepoints", body=body)
            assert answer.status == 503, replica.name
            assert answer.error.startswith(f"Redis at {url} is unavailable: "), answer.error
        persistent.start()
        wait_ready(group)
        writer.wait_for_each_id_acknowledged("writes to every id after the restart")
        writer.stop()
        wait_followers(clients, converged(group, url))
    for reason in reasons:
        assert reason.startswith(f"Redis at {url} is unreachable since "), reason
        assert reason.endswith("serving the last good config"), reason
    assert {outcome.status for outcome in refused} == {503}
    for outcome in refused:
        assert outcome.error.startswith(f"Redis at {url} is unavailable: "), outcome.error
    possible = writer.possible_lines()
    assert set(possible) == set(IDS)
    for replica in group:
        lines = lines_of(replica.listing().tracepoints, IDS)
        assert set(lines) == set(IDS), replica.name
        for tp_id, line in lines.items():
            assert line in possible[tp_id], (replica.name, tp_id, line, possible[tp_id])
    for follower in clients:
        _lines_only_grow(follower.changes.items, IDS)
        assert SourceState.INTERRUPTED not in _states(follower), follower.replica


def _states(follower: Follower) -> list[SourceState]:
    return [status.state for status in follower.statuses.items]


def test_store_ready_metric_is_0_while_redis_is_down_and_1_after(
    persistent: RedisServer, group: list[Replica]
) -> None:
    """Each replica's /metrics says confighub_store_ready 1, 0 while Redis is away, 1 again."""
    wait_until(lambda: all(r.store_ready() == 1 for r in group), "store_ready 1 everywhere")
    persistent.stop()
    wait_until(lambda: all(r.store_ready() == 0 for r in group), "store_ready 0 everywhere")
    persistent.start()
    wait_until(lambda: all(r.store_ready() == 1 for r in group), "store_ready 1 again")


def test_the_outage_is_logged_with_its_reason(
    persistent: RedisServer, group: list[Replica], caplog: pytest.LogCaptureFixture
) -> None:
    """The ERROR each replica logs when Redis goes away says it is unreachable, and why."""
    caplog.set_level(logging.ERROR, logger="confighub")
    persistent.stop()
    wait_ready(group, ready=False, reason="unreachable")
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(said) == len(group), said
    for message in said:
        assert message.startswith(f"Redis at {persistent.url} is unreachable since "), said


def test_tp_apply_while_redis_is_away_fails_in_one_line_and_writes_nothing(
    persistent: RedisServer,
    group: list[Replica],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`confighub tp apply` through a replica whose Redis is down: exit 1, one error line."""
    before = converged(group, persistent.url)
    file = tmp_path / "wanted.yaml"
    file.write_text(dump_tracepoints([TracePoint("pay", "shop/pay.py", 7)]))
    persistent.stop()
    wait_ready(group, ready=False, reason="unreachable")
    assert main(["tp", "apply", str(file), "--server", group[0].http_url]) == 1
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line.startswith("error: PUT "), line
    assert f"503 Service Unavailable: Redis at {persistent.url} is unavailable" in line
    assert "+ pay" not in captured.out
    persistent.start()
    wait_ready(group)
    assert converged(group, persistent.url) == before
