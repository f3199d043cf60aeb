"""The fleet view: agents seen, converged, behind and gone, within bounds and measured."""

from __future__ import annotations

import logging
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

from confighub._wire.tenants import DEFAULT_TENANT
from confighub.server import _fleet
from confighub.server._fleet import AgentEvent, AgentInfo, Fleet, agents_json
from confighub.server._poll_service import AnsweredPoll
from confighub.server._views import View
from tests.server import BASKET, CART, answered, key_of, view_of

OLD = view_of(0, CART)
NEW = view_of(1, CART, BASKET)
PEER = "ipv4:10.0.0.1:50000"
KEY = key_of(service="cart")


class Clock:
    """Wall-clock seconds, moved by hand."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def watched(fleet: Fleet) -> list[tuple[str, str]]:
    """A list filled with each event's (kind, peer) as ``fleet`` publishes it."""
    seen: list[tuple[str, str]] = []
    fleet.events.subscribe(lambda event: seen.append((event.kind, event.agent.peer)))
    return seen


def test_a_first_poll_holding_the_views_hash_is_seen_then_converged() -> None:
    """An agent arriving current is ``seen`` then ``converged``; further polls say nothing."""
    fleet = Fleet(clock=Clock())
    events = watched(fleet)
    for _ in range(3):
        fleet.polled(answered(OLD, OLD.hash))
    assert events == [("seen", PEER), ("converged", PEER)]
    assert len(fleet) == 1
    assert fleet.counts() == {"converged": 1, "behind": 0}


def test_an_agent_is_behind_until_it_holds_the_views_hash() -> None:
    """A first poll with no hash is behind; its next poll with the view's hash converges it."""
    fleet = Fleet(clock=Clock())
    events = watched(fleet)
    fleet.polled(answered(OLD, ""))
    fleet.polled(answered(OLD, ""))
    assert fleet.counts() == {"converged": 0, "behind": 1}
    fleet.polled(answered(OLD, OLD.hash))
    assert events == [("seen", PEER), ("behind", PEER), ("converged", PEER)]


def test_a_config_change_makes_a_converged_agent_behind_then_converged_again() -> None:
    """Answered from the new view holding the old hash, it falls behind once, then catches up."""
    fleet = Fleet(clock=Clock())
    fleet.polled(answered(OLD, OLD.hash))
    events = watched(fleet)
    fleet.polled(answered(NEW, OLD.hash))
    fleet.polled(answered(NEW, OLD.hash))
    fleet.polled(answered(NEW, NEW.hash))
    assert events == [("behind", PEER), ("converged", PEER)]


def test_agents_are_told_apart_by_tenant_peer_and_resource() -> None:
    """The same peer with two resources, or in two tenants, is three agents, counted by tenant."""
    fleet = Fleet(clock=Clock())
    fleet.polled(answered(OLD, OLD.hash))
    fleet.polled(answered(OLD, "", key=key_of(service="basket")))
    fleet.polled(answered(OLD, OLD.hash, tenant="acme"))
    assert len(fleet) == 3
    assert fleet.counts() == {"converged": 2, "behind": 1}
    assert fleet.counts_by_tenant() == {
        DEFAULT_TENANT: {"converged": 1, "behind": 1},
        "acme": {"converged": 1, "behind": 0},
    }


def test_agents_lists_each_agent_decoded_sorted_by_tenant_then_peer() -> None:
    """Each AgentInfo holds its decoded resource, first and last poll, and the hash it holds."""
    clock = Clock(100.0)
    fleet = Fleet(clock=clock)
    key = key_of(service="cart", replicas=3, canary=True)
    fleet.polled(answered(OLD, OLD.hash, peer="ipv4:10.0.0.9:1", key=key))
    clock.now = 105.0
    fleet.polled(answered(OLD, OLD.hash, peer="ipv4:10.0.0.2:1", key=key, tenant="acme"))
    fleet.polled(answered(OLD, "", peer="ipv4:10.0.0.2:1", key=key))
    clock.now = 110.0
    fleet.polled(answered(OLD, OLD.hash, peer="ipv4:10.0.0.9:1", key=key))
    resource = {"service": "cart", "replicas": 3, "canary": True}
    assert fleet.agents() == [
        AgentInfo(DEFAULT_TENANT, resource, "ipv4:10.0.0.2:1", 105.0, 105.0, "", False, 105.0),
        AgentInfo(DEFAULT_TENANT, resource, "ipv4:10.0.0.9:1", 100.0, 110.0, OLD.hash, True, 100.0),
        AgentInfo("acme", resource, "ipv4:10.0.0.2:1", 105.0, 105.0, OLD.hash, True, 105.0),
    ]
    assert [agent.peer for agent in fleet.agents("acme")] == ["ipv4:10.0.0.2:1"]
    assert fleet.agents("nobody") == []


def test_current_re_evaluates_convergence_at_call_time() -> None:
    """``current`` gives the view's hash now; None keeps what the agent's latest poll said."""
    fleet = Fleet(clock=Clock())
    fleet.polled(answered(OLD, OLD.hash, peer="a"))
    fleet.polled(answered(OLD, "", peer="b"))
    asked: list[tuple[str, bytes]] = []

    def moved_on(tenant: str, key: bytes) -> str | None:
        asked.append((tenant, key))
        return NEW.hash

    assert [agent.converged for agent in fleet.agents(current=moved_on)] == [False, False]
    assert asked == [(DEFAULT_TENANT, KEY), (DEFAULT_TENANT, KEY)]
    assert [agent.converged for agent in fleet.agents(current=lambda t, k: None)] == [True, False]
    assert [agent.converged for agent in fleet.agents(current=lambda t, k: "")] == [False, True]


def test_the_hash_held_is_the_views_own_string_and_a_long_one_is_cut() -> None:
    """A converged agent keeps the view's hash object, not a copy; a client's long hash is cut."""
    fleet = Fleet(clock=Clock())
    copy = OLD.hash.encode().decode()
    assert copy is not OLD.hash
    fleet.polled(answered(OLD, copy, peer="a"))
    fleet.polled(answered(OLD, "x" * 60_000, peer="b"))
    current, long = fleet.agents()
    assert current.hash is OLD.hash
    assert long.hash == "x" * 64


def test_sweep_forgets_agents_silent_longer_than_silence() -> None:
    """Agents silent for more than ``silence`` go, each with a ``gone``; the others stay."""
    clock = Clock(0.0)
    fleet = Fleet(silence=60.0, clock=clock)
    for peer in ("a", "b", "c"):
        fleet.polled(answered(OLD, OLD.hash, peer=peer))
    clock.now = 30.0
    fleet.polled(answered(OLD, "", peer="b"))
    events = watched(fleet)
    clock.now = 60.0
    assert fleet.sweep() == 0  # silent for exactly ``silence``: not longer
    clock.now = 61.0
    assert fleet.sweep() == 2
    assert events == [("gone", "a"), ("gone", "c")]
    assert [agent.peer for agent in fleet.agents()] == ["b"]
    assert fleet.counts() == {"converged": 0, "behind": 1}
    clock.now = 91.0
    assert fleet.sweep() == 1
    assert len(fleet) == 0
    assert fleet.counts_by_tenant() == {}


def test_past_max_agents_the_longest_silent_is_forgotten_for_the_new_one() -> None:
    """A new agent beyond the bound makes the one silent longest ``gone``, then is ``seen``."""
    clock = Clock(0.0)
    fleet = Fleet(max_agents=3, clock=clock)
    for peer in ("a", "b", "c"):
        clock.now += 1
        fleet.polled(answered(OLD, OLD.hash, peer=peer))
    fleet.polled(answered(OLD, OLD.hash, peer="a"))  # "b" is now the longest silent
    events = watched(fleet)
    fleet.polled(answered(OLD, "", peer="d"))
    assert events == [("gone", "b"), ("seen", "d"), ("behind", "d")]
    assert sorted(agent.peer for agent in fleet.agents()) == ["a", "c", "d"]
    assert fleet.counts() == {"converged": 2, "behind": 1}


def test_an_observer_that_raises_is_logged_and_hurts_neither_others_nor_the_poll(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The raising observer is logged on confighub.server; the next one and the record go on."""
    fleet = Fleet(clock=Clock())

    def broken(event: AgentEvent) -> None:
        raise RuntimeError("observer bug")

    fleet.events.subscribe(broken)
    events = watched(fleet)
    with caplog.at_level(logging.ERROR, logger="confighub.server"):
        fleet.polled(answered(OLD, ""))
        fleet.polled(answered(OLD, OLD.hash))
    assert events == [("seen", PEER), ("behind", PEER), ("converged", PEER)]
    assert fleet.counts() == {"converged": 1, "behind": 0}
    failures = [r for r in caplog.records if r.name == "confighub.server"]
    assert len(failures) == 3
    assert "fleet observer" in failures[0].getMessage()
    assert failures[0].exc_info is not None
    assert isinstance(failures[0].exc_info[1], RuntimeError)


def test_no_agent_info_is_built_while_nobody_observes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Events cost nothing unobserved: the record of each change is made only for observers."""
    built: list[object] = []
    real = _fleet._info

    def counted(*args: Any) -> AgentInfo:
        built.append(args)
        return real(*args)

    monkeypatch.setattr(_fleet, "_info", counted)
    fleet = Fleet(max_agents=1, clock=Clock())
    fleet.polled(answered(OLD, "", peer="a"))
    fleet.polled(answered(OLD, OLD.hash, peer="a"))
    fleet.polled(answered(OLD, OLD.hash, peer="b"))
    fleet.sweep()
    assert built == []
    watched(fleet)
    fleet.polled(answered(OLD, "", peer="b"))
    assert len(built) == 1


def test_start_sweeps_every_quarter_silence_at_most_five_seconds_until_stop() -> None:
    """``start`` schedules sweeps on the loop, each scheduling the next; ``stop`` cancels."""
    loop = FakeLoop()
    clock = Clock(0.0)
    fleet = Fleet(silence=8.0, clock=clock)
    fleet.polled(answered(OLD, OLD.hash))
    fleet.start(loop)  # type: ignore[arg-type]
    fleet.start(loop)  # type: ignore[arg-type]
    assert [delay for delay, _ in loop.timers] == [2.0]
    clock.now = 9.0
    loop.fire()
    assert len(fleet) == 0
    assert [delay for delay, _ in loop.timers] == [2.0]
    fleet.stop()
    assert loop.timers == []
    Fleet(silence=300.0).start(loop)  # type: ignore[arg-type]
    assert [delay for delay, _ in loop.timers] == [5.0]


class FakeLoop:
    """The ``call_later`` of an event loop, its timers fired by hand."""

    def __init__(self) -> None:
        self.timers: list[tuple[float, FakeTimer]] = []

    def call_later(self, delay: float, callback: Callable[..., object], *args: Any) -> FakeTimer:
        timer = FakeTimer(self, lambda: callback(*args))
        self.timers.append((delay, timer))
        return timer

    def fire(self) -> None:
        """Run the earliest timer."""
        _, timer = self.timers.pop(0)
        timer.run()


class FakeTimer:
    """A timer of ``FakeLoop``."""

    def __init__(self, loop: FakeLoop, run: Callable[[], object]) -> None:
        self.loop = loop
        self.run = run

    def cancel(self) -> None:
        self.loop.timers = [entry for entry in self.loop.timers if entry[1] is not self]


def test_agents_json_writes_times_in_rfc_3339_and_bytes_in_base64() -> None:
    """The HTTP body: camelCase keys, UTC times ending in Z, AnyValue cases as protobuf's JSON."""
    clock = Clock(1_700_000_000.25)
    fleet = Fleet(clock=clock)
    key = key_of(service="cart", token=b"\x00\xff", ratio=float("inf"))
    fleet.polled(answered(OLD, OLD.hash, key=key))
    assert agents_json(fleet.agents()) == {
        "agents": [
            {
                "tenant": DEFAULT_TENANT,
                "resource": {"service": "cart", "token": "AP8=", "ratio": "Infinity"},
                "peer": PEER,
                "firstSeen": "2023-11-14T22:13:20.250Z",
                "lastSeen": "2023-11-14T22:13:20.250Z",
                "hash": OLD.hash,
                "converged": True,
                "since": "2023-11-14T22:13:20.250Z",
            }
        ]
    }


def test_since_is_the_poll_that_turned_the_agent() -> None:
    """Converged at 100, behind from 110, converged again from 120; found behind: its last poll."""
    clock = Clock(100.0)
    fleet = Fleet(clock=clock)
    fleet.polled(answered(OLD, OLD.hash))
    clock.now = 105.0
    fleet.polled(answered(OLD, OLD.hash))
    assert [agent.since for agent in fleet.agents()] == [100.0]
    clock.now = 110.0
    fleet.polled(answered(OLD, ""))
    assert [(agent.converged, agent.since) for agent in fleet.agents()] == [(False, 110.0)]
    clock.now = 120.0
    fleet.polled(answered(OLD, OLD.hash))
    clock.now = 130.0
    fleet.polled(answered(OLD, OLD.hash))
    assert [(agent.converged, agent.since) for agent in fleet.agents()] == [(True, 120.0)]
    found = fleet.agents(current=lambda tenant, key: "a newer hash")
    assert [(agent.converged, agent.since) for agent in found] == [(False, 130.0)]


@pytest.mark.parametrize(
    "options", [{"silence": 0.0}, {"silence": float("nan")}, {"max_agents": 0}]
)
def test_bounds_that_cannot_hold_are_refused(options: dict[str, Any]) -> None:
    """A silence that is no positive number of seconds, or no room for agents: ValueError."""
    with pytest.raises(ValueError, match="must be"):
        Fleet(**options)


def test_an_agent_costs_under_2_kib_at_10000_agents() -> None:
    """Each agent's record, peer and key, allocated as the server makes them, stay small."""
    fleet = Fleet()
    view: View = OLD
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for n in range(10_000):
            peer = f"ipv4:10.{n >> 16}.{n >> 8 & 255}.{n & 255}:{40_000 + n % 20_000}"
            key = key_of(service="cart", host=f"cart-{n:05d}.shop.svc", zone="eu-west-1a")
            fleet.polled(AnsweredPoll(DEFAULT_TENANT, peer, key, view.hash, view, 0, 0.0))
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    grown = after - before
    assert len(fleet) == 10_000
    assert grown / 10_000 < 2048


def test_the_resources_kept_are_bounded_in_bytes_not_only_in_agents() -> None:
    """Agents of 10 KiB resources past a 25 KiB budget: the longest silent go, each told gone."""
    events: list[AgentEvent] = []
    fleet = Fleet(clock=Clock(), max_resource_bytes=25 * 1024)
    fleet.events.subscribe(events.append)
    for n in range(5):
        fleet.polled(answered(OLD, OLD.hash, peer=f"p{n}", key=key_of(blob="x" * 10 * 1024)))
    assert [agent.peer for agent in fleet.agents()] == ["p3", "p4"]
    assert [event.agent.peer for event in events if event.kind == "gone"] == ["p0", "p1", "p2"]
