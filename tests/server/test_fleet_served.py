"""The fleet view of a real HubServer polled by real long-polling clients."""

from __future__ import annotations

from confighub import ConfigHub, TracePoint
from confighub.server import AgentEvent, HubServer, MemoryStore
from confighub.sources import GrpcPollSource
from tests.support.waiting import Recorder, wait_until

CART = TracePoint("cart", "shop/cart.py", 17)
PAY = TracePoint("pay", "shop/pay.py", 7)


def test_a_held_client_is_converged_while_held_and_behind_only_until_it_polls_again() -> None:
    """A long-polling client is converged during its hold; a change makes it behind, then not."""
    store = MemoryStore([CART])
    events: Recorder[AgentEvent] = Recorder()
    with HubServer(store) as server, ConfigHub() as hub:
        server.agents.subscribe(events)
        # A hold longer than the wait: the view must see the client while its poll is held.
        with GrpcPollSource(server.target, hub, hold=60, resource={"service": "shop"}):
            wait_until(lambda: server.stats().held == 1, "the poll to be held")
            [agent] = server.fleet()
            assert agent.converged
            assert agent.hash == store.hash
            assert agent.resource == {"service": "shop"}
            store.add(PAY)
            kinds = events.wait_for(
                lambda items: len(items) >= 5,
                "behind, then converged again",
            )
            assert [event.kind for event in kinds] == [
                "seen",
                "behind",
                "converged",
                "behind",
                "converged",
            ]
            wait_until(lambda: server.fleet()[0].hash == store.hash, "the new hash held")


def test_the_fleet_view_says_behind_for_a_client_that_has_not_polled_since_a_change() -> None:
    """fleet() re-evaluates against the current view: a client that polls seldom is behind."""
    store = MemoryStore([CART])
    with HubServer(store) as server, ConfigHub() as hub:
        source = GrpcPollSource(server.target, hub, resource={"service": "shop"})
        source.poll_once()
        source.poll_once()
        assert [agent.converged for agent in server.fleet()] == [True]
        store.add(PAY)
        wait_until(lambda: not server.fleet()[0].converged, "the agent to be behind")
        assert server.stats().agents == 1
        source.stop()


def test_no_fleet_view_when_turned_off() -> None:
    """track_agents=False: no agents listed, no events, nothing counted."""
    with HubServer(MemoryStore([CART]), track_agents=False) as server, ConfigHub() as hub:
        events: Recorder[AgentEvent] = Recorder()
        server.agents.subscribe(events)
        source = GrpcPollSource(server.target, hub)
        source.poll_once()
        source.stop()
        assert server.fleet() == []
        assert server.stats().agents == 0
    assert events.items == []


def test_an_agents_observer_may_ask_for_the_fleet() -> None:
    """fleet() called on the server's own thread (from an agents observer) answers at once."""
    seen: Recorder[int] = Recorder()
    with HubServer(MemoryStore([CART])) as server, ConfigHub() as hub:
        server.agents.subscribe(lambda event: seen(len(server.fleet(timeout=30))))
        source = GrpcPollSource(server.target, hub)
        source.poll_once()
        source.stop()
        assert seen.wait_for(lambda items: len(items) >= 2, "two events")[:2] == [1, 1]
