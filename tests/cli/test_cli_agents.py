"""`confighub agents` against a real HubServer: its table of agents and the summary line."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from confighub import TracePoint
from confighub.cli import main
from confighub.manage import ManagementClient
from confighub.server import HubServer, MemoryStore

CHECKOUT = TracePoint("checkout", "shop/checkout.py", 42)
CART = TracePoint("cart", "shop/cart.py", 17)


@pytest.fixture
def server() -> Iterator[HubServer]:
    """A HubServer of CHECKOUT and CART with its HTTP API on a free port of 127.0.0.1."""
    with HubServer(MemoryStore([CHECKOUT, CART]), http_port=0) as hub_server:
        yield hub_server


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
