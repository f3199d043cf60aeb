"""What HubServer tells its operator about refused calls and new agents, within a rate."""

from __future__ import annotations

import logging
import re

import grpc
import pytest
from deepproto.proto.poll.v1 import poll_pb2_grpc

from confighub import TracePoint
from confighub.server import HubServer, MemoryStore
from confighub.server._audit import BURST, REMEMBERED, Audit
from tests.support.polling import poll
from tests.support.raw_calls import raw, status

CART = TracePoint("cart", "shop/cart.py", 12)
TOKEN = "t0ken"
AUTHORIZED = (("authorization", f"Bearer {TOKEN}"),)
SERVER_LOGGER = "confighub.server"


def _refusal_counts(records: list[logging.LogRecord]) -> tuple[list[str], int]:
    """The one-by-one refusal lines, and the calls that the summary lines count."""
    lines = [r.getMessage() for r in records if r.name == SERVER_LOGGER]
    single = [line for line in lines if line.startswith("refused a call")]
    counted = sum(int(m[1]) for line in lines if (m := re.match(r"refused (\d+) more", line)))
    return single, counted


def test_refused_calls_are_logged_once_per_peer_then_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """100 refusals from one host: one WARNING naming peer and reason, then a count of 99."""
    with caplog.at_level(logging.WARNING, logger=SERVER_LOGGER):
        with (
            HubServer(MemoryStore([CART]), token=TOKEN) as server,
            grpc.insecure_channel(server.target) as channel,
        ):
            for _ in range(100):
                code, _ = status(raw(channel), b"", (("authorization", "Bearer wrong"),))
                assert code == grpc.StatusCode.UNAUTHENTICATED
        single, counted = _refusal_counts(caplog.records)
    assert len(single) == 1
    assert re.fullmatch(
        r"refused a call from ipv4:127\.0\.0\.1:\d+: invalid bearer token.*", single[0]
    )
    assert counted == 99
    assert all(r.levelno == logging.WARNING for r in caplog.records if r.name == SERVER_LOGGER)
    assert "wrong" not in caplog.text


def test_a_flood_from_many_hosts_logs_a_burst_then_one_summary_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Refusals from 1,000 hosts: BURST lines and one count; the next interval starts afresh."""
    audit = Audit(clock=iter(range(0, 1000, 10)).__next__)
    with caplog.at_level(logging.WARNING, logger=SERVER_LOGGER):
        for interval in range(2):
            for n in range(1000):
                audit.refused(f"ipv4:10.{interval}.{n // 256}.{n % 256}:5000", "invalid token")
            audit.flush()
    single, counted = _refusal_counts(caplog.records)
    assert len(single) == 2 * BURST
    assert counted == 2 * (1000 - BURST)
    assert len(caplog.records) == 2 * (BURST + 1)
    assert "in the last 10 s" in caplog.records[-1].getMessage()


def test_only_the_latest_refused_hosts_are_remembered(caplog: pytest.LogCaptureFixture) -> None:
    """A host refused before 4,096 others is new again: its next refusal is a line of its own."""
    audit = Audit()
    with caplog.at_level(logging.WARNING, logger=SERVER_LOGGER):
        for n in range(REMEMBERED + 1):
            audit.refused(f"ipv6:[fd00::{n:x}]:5000", "missing token")
        audit.flush()
        caplog.clear()
        audit.refused("ipv6:[fd00::0]:5000", "missing token")
        audit.refused(f"ipv6:[fd00::{REMEMBERED:x}]:5000", "missing token")
    assert [r.getMessage() for r in caplog.records] == [
        "refused a call from ipv6:[fd00::0]:5000: missing token"
    ]


def test_a_new_agent_is_logged_at_info_once(
    hub_server: HubServer, channel: grpc.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    """The first poll of each resource from a host is an INFO line; repeated polls add none."""
    stub = poll_pb2_grpc.PollConfigStub(channel)
    with caplog.at_level(logging.INFO, logger=SERVER_LOGGER):
        for name in ("shop", "shop", "cart", "shop"):
            poll(stub, attributes={"service.name": name})
    lines = [r.getMessage() for r in caplog.records if r.name == SERVER_LOGGER]
    assert len(lines) == 2
    assert re.fullmatch(r"new agent polling from ipv4:127\.0\.0\.1:\d+, resource .*", lines[0])
    assert "{'service.name': 'shop'}" in lines[0]
    assert "{'service.name': 'cart'}" in lines[1]
