"""The server's Prometheus metrics, counted on the poll path for nearly nothing.

A ``prometheus_client`` metric child takes a lock and a label lookup per
increment, which on the poll path would cost more than the rest of a
``NO_CHANGE``. So ``PollMetrics`` keeps plain integers in lists (the server's
loop is the only writer) and ``ServerCollector``, a custom collector, turns
them into metric families only when scraped, together with the gauges and
counters the server keeps elsewhere (held polls, agents, snapshots, refusals),
read through callables. Each server has a registry of its own
(``metrics_registry``), never the global one, so that two servers in one
process do not collide.

Poll latency (``confighub_poll_seconds``) is the server's own time: from a
poll's arrival to its answer, less the time a held poll waited for a change (up
to ``max_hold`` seconds, because its client asked it to: those seconds would
bury the server's time under the clients' choice). Held polls are also counted
apart (``confighub_polls_held_total``). The answer is timed when the server has
chosen it: serializing a new view's UPDATE body, done once per view and hash,
comes after.

Tenant labels are bounded: the server bounds its tenants already, but past
``MAX_TENANT_LABELS`` tenants the counts of any new one go to ``tenant="other"``.
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from typing import Final, NamedTuple, TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from confighub.server._poll_service import AnsweredPoll
from confighub.server._tenants import Tenant

__all__ = [
    "MAX_TENANT_LABELS",
    "OTHER_TENANT",
    "POLL_SECONDS_BUCKETS",
    "PollMetrics",
    "ServerCollector",
    "exposition",
    "metrics_registry",
]

logger = logging.getLogger("confighub.server")

MAX_TENANT_LABELS: Final = 1000
"""Tenants counted under their own label; the counts of any more go to ``OTHER_TENANT``."""
OTHER_TENANT: Final = "other"

POLL_SECONDS_BUCKETS: Final = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
"""Upper bounds of the latency histogram, from an answer out of the cache (well under a
millisecond) to one behind a loop stalled by a large change (seconds)."""

# The row of counts kept per tenant label.
_NO_CHANGE, _UPDATE, _HELD, _CHANGES = range(4)
# repr writes these bounds as prometheus_client writes its own (0.0001, 1.0, 10.0).
_LE: Final = (*(repr(bound) for bound in POLL_SECONDS_BUCKETS), "+Inf")
# The bounds in integer nanoseconds, as the clock counts: no float arithmetic per poll.
_BOUNDS_NS: Final = tuple(round(bound * 1e9) for bound in POLL_SECONDS_BUCKETS)
_T = TypeVar("_T")


class PollMetrics:
    """Counts of polls, held polls and config changes by tenant, and the poll latency.

    A ``PollObserver``; ``changed`` is for ``Tenants.open(loop, on_change)``.
    ``clock`` is ``time.monotonic_ns``, as ``AnsweredPoll.started`` is.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], int] = time.monotonic_ns,
        max_tenant_labels: int = MAX_TENANT_LABELS,
    ) -> None:
        if max_tenant_labels < 1:
            raise ValueError(f"max_tenant_labels must be >= 1, got {max_tenant_labels!r}")
        self._clock = clock
        self._max_tenant_labels = max_tenant_labels
        self._by_tenant: dict[str, list[int]] = {}
        self._buckets = [0] * len(_LE)
        self._ns = 0

    def holding(self, poll: AnsweredPoll) -> None:
        """Nothing: a held poll is counted once, when it is answered."""

    def polled(self, poll: AnsweredPoll) -> None:
        """Count ``poll``, and its latency without the time it waited held."""
        tenant, _, _, held, view, started, hold = poll
        counts = self._by_tenant.get(tenant)
        if counts is None:
            counts = self._row(tenant)
        # _UPDATE is _NO_CHANGE + 1: a poll whose hash is not the view's is answered UPDATE.
        counts[held != view.hash] += 1
        elapsed = self._clock() - started
        if hold:
            counts[_HELD] += 1
            elapsed -= int(hold * 1e9)
        self._buckets[bisect_left(_BOUNDS_NS, elapsed)] += 1
        self._ns += elapsed

    def changed(self, tenant: Tenant) -> None:
        """Count a change of ``tenant``'s config."""
        counts = self._by_tenant.get(tenant.name)
        if counts is None:
            counts = self._row(tenant.name)
        counts[_CHANGES] += 1

    def by_tenant(self) -> dict[str, tuple[int, int, int, int]]:
        """Each tenant label's polls answered NO_CHANGE, UPDATE, held, and config changes."""
        # Copied at once: a scrape from another thread must not see the dict grow under it.
        rows = tuple(self._by_tenant.items())
        return {
            tenant: (row[_NO_CHANGE], row[_UPDATE], row[_HELD], row[_CHANGES])
            for tenant, row in rows
        }

    def latency(self) -> tuple[list[tuple[str, float]], float]:
        """The latency histogram: cumulative counts by upper bound (``le``), and the sum."""
        buckets, seconds = list(self._buckets), self._ns / 1e9
        cumulative: list[tuple[str, float]] = []
        total = 0
        for le, count in zip(_LE, buckets, strict=True):
            total += count
            cumulative.append((le, total))
        return cumulative, seconds

    def _row(self, tenant: str) -> list[int]:
        if len(self._by_tenant) >= self._max_tenant_labels:
            tenant = OTHER_TENANT
        counts = self._by_tenant.get(tenant)
        if counts is None:
            counts = self._by_tenant[tenant] = [0, 0, 0, 0]
        return counts


class ServerCollector:
    """A ``prometheus_client`` collector of a server's metrics: ``PollMetrics`` and readings.

    Each reading is a callable the server gives: ``held()`` polls held now,
    ``agents()`` agents by state, and the counts so far of ``snapshots()``,
    ``auth_failures()``, ``store_errors()`` and ``http_requests()``, and whether
    ``store_ready()``. A reading
    that raises is logged and its metric left out of that scrape.
    """

    def __init__(
        self,
        metrics: PollMetrics,
        *,
        held: Callable[[], int],
        agents: Callable[[], Mapping[str, int]],
        snapshots: Callable[[], int],
        auth_failures: Callable[[], int],
        store_errors: Callable[[], int],
        http_requests: Callable[[], int],
        store_ready: Callable[[], bool],
    ) -> None:
        self._metrics = metrics
        self._held = held
        self._store_ready = store_ready
        self._agents = agents
        self._totals = (
            ("confighub_snapshots", "Snapshots received from agents.", snapshots),
            ("confighub_auth_failures", "Calls refused for their credentials.", auth_failures),
            ("confighub_store_errors", "Failures reading or writing the store.", store_errors),
            ("confighub_http_requests", "Requests to the HTTP API.", http_requests),
        )

    def describe(self) -> Iterator[Metric]:
        """The metric families, without samples: what the registry checks names against."""
        families = self._families()
        yield from families[:-1]
        yield from families.totals

    def collect(self) -> Iterator[Metric]:
        """The metric families with their values now."""
        families = self._families()
        for tenant, (no_change, update, held, changed) in self._metrics.by_tenant().items():
            families.polls.add_metric((tenant, "no_change"), no_change)
            families.polls.add_metric((tenant, "update"), update)
            families.held_polls.add_metric((tenant,), held)
            families.changes.add_metric((tenant,), changed)
        buckets, seconds = self._metrics.latency()
        families.latency.add_metric((), buckets, seconds)
        yield from (families.polls, families.held_polls, families.changes, families.latency)
        held_now = _reading(families.held_now.name, self._held)
        if held_now is not None:
            families.held_now.add_metric((), held_now)
            yield families.held_now
        ready = _reading(families.store_ready.name, self._store_ready)
        if ready is not None:
            families.store_ready.add_metric((), 1 if ready else 0)
            yield families.store_ready
        states = _reading(families.agents.name, self._agents)
        if states is not None:
            for state, count in sorted(states.items()):
                families.agents.add_metric((state,), count)
            yield families.agents
        for family, (_, _, reading) in zip(families.totals, self._totals, strict=True):
            total = _reading(family.name, reading)
            if total is not None:
                family.add_metric((), total)
                yield family

    def _families(self) -> _Families:
        return _Families(
            CounterMetricFamily(
                "confighub_polls",
                "Polls answered, by tenant and answer.",
                labels=("tenant", "answer"),
            ),
            CounterMetricFamily(
                "confighub_polls_held", "Polls held before they were answered.", labels=("tenant",)
            ),
            CounterMetricFamily(
                "confighub_config_changes", "Changes of a tenant's config.", labels=("tenant",)
            ),
            HistogramMetricFamily(
                "confighub_poll_seconds",
                "Seconds from a poll's arrival to its answer, less the time it was held.",
            ),
            GaugeMetricFamily("confighub_held_polls", "Polls being held now."),
            GaugeMetricFamily("confighub_agents", "Agents polling, by state.", labels=("state",)),
            GaugeMetricFamily(
                "confighub_store_ready",
                "1 while the store serves its current config, 0 while it serves its last good one"
                " (a bad file, an unreachable or emptied Redis; /readyz says why).",
            ),
            tuple(CounterMetricFamily(name, help_text) for name, help_text, _ in self._totals),
        )


class _Families(NamedTuple):
    polls: CounterMetricFamily
    held_polls: CounterMetricFamily
    changes: CounterMetricFamily
    latency: HistogramMetricFamily
    held_now: GaugeMetricFamily
    agents: GaugeMetricFamily
    store_ready: GaugeMetricFamily
    totals: tuple[CounterMetricFamily, ...]


def _reading(name: str, reading: Callable[[], _T]) -> _T | None:
    try:
        return reading()
    except Exception:
        logger.exception("reading %s for the metrics raised; left out of this scrape", name)
        return None


def metrics_registry(collector: Collector) -> CollectorRegistry:
    """A registry of ``collector`` alone: one per server, never the process's global one."""
    registry = CollectorRegistry()
    registry.register(collector)
    return registry


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The body of a scrape of ``registry`` in the text format, and its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST
