"""The fleet view: which agents poll the server, since when, and whether they hold its config.

An operator's first question after a change is "has every agent got it?". The
server already sees the answer in each poll: the hash the agent holds, against
the hash of the view it is served. ``Fleet`` is a ``PollObserver`` that keeps,
for each agent (tenant, peer, resource), its first and last poll and that hash,
and publishes each agent's arrival, convergence, falling behind and departure.

It sits on the poll path, so a poll of a known agent costs a dict lookup, a
move to the end of an ``OrderedDict`` and a comparison; events are built only
when someone observes them. Clients choose their peers and resources, so the
agents are bounded (``max_agents``, the longest silent forgotten first), and so
are the bytes of their resources together (``max_resource_bytes``: a client may
send 64 KiB of resource per poll), and each costs one small slotted record that
shares the tenant name, the key bytes and the view's hash string with the server
rather than copying them. Agents
silent for ``silence`` seconds are forgotten by ``sweep()``; the dict is in
poll order, so a sweep reads only the agents it forgets (and one more). Not
thread-safe: the server uses it from its event loop only.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

from deepproto.proto.resource.v1 import resource_pb2
from reactivex import Observable, abc

from confighub._internal.dispatch import Channel, Dispatcher
from confighub._internal.text import shown
from confighub._wire.anyvalue import AnyValueError, decode
from confighub.server._poll_service import AnsweredPoll

__all__ = ["DEFAULT_MAX_RESOURCE_BYTES", "AgentEvent", "AgentInfo", "Fleet", "agents_json"]

logger = logging.getLogger("confighub.server")

DEFAULT_MAX_RESOURCE_BYTES: Final = 64 * 1024 * 1024
"""The bytes of the agents' resources the fleet view keeps at most, all agents together."""

_MAX_HELD: Final = 64
"""Characters of a held hash kept: this server's are 32, and clients choose what they send."""

_Ident = tuple[str, str, bytes]


class AgentInfo(NamedTuple):
    """One agent as the fleet view last saw it."""

    tenant: str
    resource: dict[str, object]
    """Its resource attributes, decoded (an attribute that does not decode is None)."""
    peer: str
    first_seen: float
    """Its first poll, in seconds since the epoch."""
    last_seen: float
    """Its latest poll, in seconds since the epoch."""
    hash: str
    """The hash it said it holds at its latest poll (its first 64 characters)."""
    converged: bool
    """Whether that hash is its view's: at its latest poll, or as ``Fleet.agents`` was told."""
    since: float
    """Since when it has been converged (or behind), in seconds since the epoch: the poll that
    made it so; for an agent found behind by ``Fleet.agents``, its latest poll."""


class AgentEvent(NamedTuple):
    """A change in the fleet: ``kind`` is ``seen``, ``converged``, ``behind`` or ``gone``."""

    kind: str
    agent: AgentInfo


class _Agent:
    # The tuple that keys the agent holds its tenant, peer and key: each object kept once.
    __slots__ = ("converged", "first_seen", "hash", "ident", "last_seen", "since")

    def __init__(self, ident: _Ident, seen: float, held: str, converged: bool) -> None:
        self.ident = ident
        self.first_seen = seen
        self.last_seen = seen
        self.since = seen  # the same float object: an agent costs one slot more, not a float
        self.hash = held
        self.converged = converged


class Fleet:
    """The agents polling the server; a ``PollObserver`` (see the module docstring)."""

    def __init__(
        self,
        *,
        silence: float = 300.0,
        max_agents: int = 100_000,
        max_resource_bytes: int = DEFAULT_MAX_RESOURCE_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not (math.isfinite(silence) and silence > 0):
            raise ValueError(f"silence must be a finite number of seconds > 0, got {silence!r}")
        if max_agents < 1:
            raise ValueError(f"max_agents must be >= 1, got {max_agents!r}")
        if max_resource_bytes < 1:
            raise ValueError(f"max_resource_bytes must be >= 1, got {max_resource_bytes!r}")
        self._max_resource_bytes = max_resource_bytes
        self._resource_bytes = 0
        self._silence = silence
        self._max_agents = max_agents
        self._clock = clock
        self._agents: OrderedDict[_Ident, _Agent] = OrderedDict()
        # [behind, converged] per tenant, indexed by the agent's ``converged``.
        self._by_tenant: dict[str, list[int]] = {}
        self._dispatcher = Dispatcher()
        self._events: Channel[AgentEvent] = Channel(self._dispatcher, _observer_raised)
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._agents)

    @property
    def events(self) -> Observable[AgentEvent]:
        """Each agent's ``seen``, ``converged``, ``behind`` and ``gone``, on the server's loop."""
        return self._events.observable

    def holding(self, poll: AnsweredPoll) -> None:
        """Note a poll about to be held: its agent holds its view's config (converged) now."""
        self.polled(poll)

    def polled(self, poll: AnsweredPoll) -> None:
        """Note ``poll``: a new agent, one still current or behind, or one that changed."""
        tenant, peer, key, held, view, _, _ = poll
        ident = (tenant, peer, key)
        agent = self._agents.get(ident)
        if agent is None:
            self._arrived(ident, held, view.hash)
            return
        self._agents.move_to_end(ident)
        agent.last_seen = self._clock()
        current = view.hash
        if held == current:
            agent.hash = current  # the view's string, shared by its agents
            if not agent.converged:
                self._turned(agent, True)
        else:
            if held != agent.hash:  # else keep the string held already, often a view's
                agent.hash = held[:_MAX_HELD]
            if agent.converged:
                self._turned(agent, False)

    def agents(
        self,
        tenant: str | None = None,
        current: Callable[[str, bytes], str | None] | None = None,
    ) -> list[AgentInfo]:
        """The agents (of ``tenant``, or all), by tenant then peer.

        ``current(tenant, key)`` gives the hash an agent's view has now (None: not
        known), so that ``converged`` says whether it holds that rather than what
        its latest poll said.
        """
        listed = [a for a in self._agents.values() if tenant is None or a.ident[0] == tenant]
        listed.sort(key=lambda agent: agent.ident)
        if current is None:
            return [_info(agent, agent.converged) for agent in listed]
        infos = []
        for agent in listed:
            now = current(agent.ident[0], agent.ident[2])
            infos.append(_info(agent, agent.converged if now is None else now == agent.hash))
        return infos

    def counts(self) -> dict[str, int]:
        """How many agents are converged and behind, as of their latest polls."""
        behind = sum(counts[0] for counts in self._by_tenant.values())
        return {"converged": len(self._agents) - behind, "behind": behind}

    def counts_by_tenant(self) -> dict[str, dict[str, int]]:
        """``counts()`` for each tenant that has agents."""
        return {
            tenant: {"converged": converged, "behind": behind}
            for tenant, (behind, converged) in self._by_tenant.items()
        }

    def sweep(self) -> int:
        """Forget the agents silent for longer than ``silence``, each a ``gone``; how many."""
        deadline = self._clock() - self._silence
        agents = self._agents
        forgotten = 0
        # In poll order: the first agent not silent long enough ends the sweep.
        while agents:
            agent = next(iter(agents.values()))
            if agent.last_seen >= deadline:
                break
            agents.popitem(last=False)
            self._gone(agent)
            forgotten += 1
        return forgotten

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Sweep every ``min(silence / 4, 5)`` seconds on ``loop``; call on it."""
        if self._timer is None:
            self._schedule(loop)

    def stop(self) -> None:
        """Stop sweeping; call on the loop ``start`` was given."""
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        period = min(self._silence / 4, 5.0)  # a departure is told within seconds
        self._timer = loop.call_later(period, self._tick, loop)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            self.sweep()
        finally:
            self._schedule(loop)

    def _arrived(self, ident: _Ident, held: str, current: str) -> None:
        agents = self._agents
        self._resource_bytes += len(ident[2])
        while agents and (
            len(agents) >= self._max_agents or self._resource_bytes > self._max_resource_bytes
        ):
            _, oldest = agents.popitem(last=False)
            self._gone(oldest)
        converged = held == current
        agent = _Agent(ident, self._clock(), current if converged else held[:_MAX_HELD], converged)
        agents[ident] = agent
        self._by_tenant.setdefault(ident[0], [0, 0])[converged] += 1
        if self._events.observers:
            self._emit("seen", agent)
            self._emit("converged" if converged else "behind", agent)

    def _turned(self, agent: _Agent, converged: bool) -> None:
        agent.converged = converged
        agent.since = agent.last_seen
        counts = self._by_tenant[agent.ident[0]]
        counts[converged] += 1
        counts[not converged] -= 1
        if self._events.observers:
            self._emit("converged" if converged else "behind", agent)

    def _gone(self, agent: _Agent) -> None:
        tenant = agent.ident[0]
        self._resource_bytes -= len(agent.ident[2])
        counts = self._by_tenant[tenant]
        counts[agent.converged] -= 1
        if counts == [0, 0]:  # a tenant whose agents are all gone leaves no entry behind
            del self._by_tenant[tenant]
        if self._events.observers:
            self._emit("gone", agent)

    def _emit(self, kind: str, agent: _Agent) -> None:
        event = AgentEvent(kind, _info(agent, agent.converged))
        with self._dispatcher.lock:
            self._events.publish(event)


def _info(agent: _Agent, converged: bool) -> AgentInfo:
    tenant, peer, key = agent.ident
    since = agent.since if converged == agent.converged else agent.last_seen
    return AgentInfo(
        tenant,
        _resource(key),
        peer,
        agent.first_seen,
        agent.last_seen,
        agent.hash,
        converged,
        since,
    )


def _resource(key: bytes) -> dict[str, object]:
    attributes: dict[str, object] = {}
    # The key is the server's own serialization of a Resource it parsed, so it parses.
    for kv in resource_pb2.Resource.FromString(key).attributes:
        try:
            attributes[kv.key] = decode(kv.value)
        except AnyValueError:
            attributes[kv.key] = None
    return attributes


def _observer_raised(observer: abc.ObserverBase[Any], error: Exception, event: object) -> None:
    # rx wraps subscribers in an AutoDetachObserver; name the callable the subscriber gave.
    culprit = getattr(observer, "_on_next", observer)
    logger.error("fleet observer %r raised on %s", culprit, shown(event), exc_info=error)


def agents_json(agents: list[AgentInfo]) -> dict[str, list[dict[str, object]]]:
    """The HTTP body listing ``agents``: times in RFC 3339 (UTC), bytes in base64."""
    return {
        "agents": [
            {
                "tenant": agent.tenant,
                "resource": _jsonable(agent.resource),
                "peer": agent.peer,
                "firstSeen": _rfc3339(agent.first_seen),
                "lastSeen": _rfc3339(agent.last_seen),
                "hash": agent.hash,
                "converged": agent.converged,
                "since": _rfc3339(agent.since),
            }
            for agent in agents
        ]
    }


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _jsonable(value: object) -> object:
    # As protobuf's JSON mapping writes AnyValues: bytes in base64, floats JSON lacks as strings.
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
    return value
