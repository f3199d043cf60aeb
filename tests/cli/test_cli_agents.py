"""`confighub agents` against a real HubServer: its table of agents and the summary line."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from confighub import ConfigHub, TracePoint, config_hash
from confighub.cli import main
from confighub.manage import ManagementClient
from confighub.server import HubServer, MemoryStore
from confighub.sources import GrpcPollSource
from tests.support.waiting import wait_until

CHECKOUT = TracePoint("checkout", "shop/checkout.py", 42)
CART = TracePoint("cart", "shop/cart.py", 17)


@pytest.fixture
def server() -> Iterator[HubServer]:
    """A HubServer of CHECKOUT and CART with its HTTP API on a free port of 127.0.0.1."""
    with HubServer(MemoryStore([CHECKOUT, CART]), http_port=0) as hub_server:
        yield hub_server


def test_agents_lists_an_agent_that_polled(
    server: HubServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """After a real GrpcPollSource polled twice: its row (converged, seen just now), the summary.

    Its first poll is answered with the config, so it is behind until a poll holding it.
    """
    with ConfigHub() as hub:
        source = GrpcPollSource(server.target, hub, resource={"service": "shop"})
        source.poll_once()
        source.poll_once()
        source.stop()
    client = ManagementClient(server.http_url)
    wait_until(lambda: bool(client.agents()), "the agent to be listed")
    assert main(["agents", "--server", server.http_url]) == 0
    out = capsys.readouterr().out
    [row] = [line for line in out.splitlines() if "service=shop" in line]
    assert "converged" in row
    assert config_hash([CHECKOUT, CART])[:8] in row
    assert " s ago" in row
    assert out.splitlines()[-1] == "1 agent: 1 converged, 0 behind"


def test_agents_behind_and_of_tenants_are_told_apart(
    server: HubServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An agent behind, one seen minutes ago, one of the default tenant: each row, the summary."""
    seen = {"firstSeen": "2026-01-01T00:00:00.000Z", "resource": {}, "hash": "ab" * 16}
    agents = [
        {**seen, "tenant": "a", "peer": "ipv4:10.0.0.1:5", "converged": True, "lastSeen": "x"},
        {**seen, "tenant": "", "peer": "ipv4:10.0.0.2:6", "converged": False},
    ]
    agents[1]["lastSeen"] = "2026-01-01T00:00:00.000Z"
    monkeypatch.setattr(ManagementClient, "agents", lambda self: agents)
    assert main(["agents", "--server", server.http_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    [first] = [line for line in lines if "10.0.0.1" in line]
    [second] = [line for line in lines if "10.0.0.2" in line]
    assert first.split()[0] == "a"
    assert "converged" in first
    assert first.rstrip().endswith("?")
    assert second.split()[0] == "-"
    assert "behind" in second
    assert "ago" in second
    assert lines[-1] == "2 agents: 1 converged, 1 behind"
