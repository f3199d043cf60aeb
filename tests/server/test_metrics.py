"""The server's Prometheus metrics: counted per poll in plain ints, exposed as prometheus_client."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families

from confighub._wire.tenants import DEFAULT_TENANT
from confighub.server import MemoryStore
from confighub.server._fleet import Fleet
from confighub.server._metrics import (
    MAX_TENANT_LABELS,
    PollMetrics,
    ServerCollector,
    exposition,
    metrics_registry,
)
from confighub.server._tenants import Tenants
from tests.server import BASKET, CART, answered, view_of

VIEW = view_of(0, CART)
MS = 1_000_000  # ns


class Clock:
    """``time.monotonic_ns``, moved by hand."""

    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now


def collector(
    metrics: PollMetrics,
    *,
    held: Callable[[], int] = lambda: 0,
    agents: Callable[[], Mapping[str, int]] = lambda: {"converged": 0, "behind": 0},
    snapshots: Callable[[], int] = lambda: 0,
    store_ready: Callable[[], bool] = lambda: True,
) -> ServerCollector:
    """A collector of ``metrics`` whose other readings are given or zero."""
    return ServerCollector(
        metrics,
        held=held,
        agents=agents,
        snapshots=snapshots,
        auth_failures=lambda: 4,
        store_errors=lambda: 5,
        http_requests=lambda: 6,
        store_ready=store_ready,
    )


def scraped(source: ServerCollector) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Each sample of a scrape of ``source``'s own registry, parsed back from the text format."""
    body, content_type = exposition(metrics_registry(source))
    assert content_type == prometheus_client.CONTENT_TYPE_LATEST
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def polls(samples: Mapping[tuple[str, tuple[tuple[str, str], ...]], float]) -> dict[str, float]:
    """``confighub_polls_total`` by ``tenant/answer``."""
    return {
        f"{dict(labels)['tenant']}/{dict(labels)['answer']}": value
        for (name, labels), value in samples.items()
        if name == "confighub_polls_total"
    }


def test_polls_are_counted_by_tenant_and_answer() -> None:
    """A poll holding its view's hash is a no_change, any other an update, per tenant."""
    metrics = PollMetrics(clock=Clock())
    metrics.polled(answered(VIEW, ""))
    metrics.polled(answered(VIEW, VIEW.hash))
    metrics.polled(answered(VIEW, VIEW.hash))
    metrics.polled(answered(VIEW, "stale", tenant="acme"))
    assert polls(scraped(collector(metrics))) == {
        "/no_change": 2,
        "/update": 1,
        "acme/no_change": 0,
        "acme/update": 1,
    }


def test_latency_leaves_out_the_wait_of_held_polls_which_are_counted_apart() -> None:
    """Polls of 0.3 ms and 20 ms fall in their buckets; one held 2 s counts its 5 ms of work."""
    clock = Clock()
    metrics = PollMetrics(clock=clock)
    clock.now = 300_000
    metrics.polled(answered(VIEW, VIEW.hash, started=0))
    clock.now += 20 * MS
    metrics.polled(answered(VIEW, "", started=clock.now - 20 * MS))
    clock.now += 2005 * MS
    metrics.polled(answered(VIEW, VIEW.hash, started=clock.now - 2005 * MS, hold=2.0))
    metrics.holding(answered(VIEW, VIEW.hash, started=clock.now))  # counted once, answered
    samples = scraped(collector(metrics))
    bucket = {
        dict(labels)["le"]: value
        for (name, labels), value in samples.items()
        if name == "confighub_poll_seconds_bucket"
    }
    assert bucket["0.00025"] == 0
    assert bucket["0.0005"] == 1
    assert bucket["0.0025"] == 1
    assert bucket["0.005"] == 2
    assert bucket["0.01"] == 2
    assert bucket["0.025"] == 3
    assert bucket["+Inf"] == 3
    assert samples["confighub_poll_seconds_count", ()] == 3
    assert samples["confighub_poll_seconds_sum", ()] == pytest.approx(0.0253)
    assert samples["confighub_polls_held_total", (("tenant", ""),)] == 1
    assert polls(samples) == {"/no_change": 2, "/update": 1}


def test_a_latency_on_a_bucket_bound_counts_in_that_bucket() -> None:
    """Buckets are upper bounds inclusive (``le``): exactly 1 ms is in le=0.001."""
    clock = Clock()
    metrics = PollMetrics(clock=clock)
    clock.now = MS
    metrics.polled(answered(VIEW, VIEW.hash, started=0))
    buckets, seconds = metrics.latency()
    assert dict(buckets)["0.0005"] == 0
    assert dict(buckets)["0.001"] == 1
    assert seconds == 0.001


def test_config_changes_are_counted_by_tenant_through_on_change() -> None:
    """``changed`` as ``Tenants``' on_change counts each change of a tenant's config."""
    metrics = PollMetrics()
    store = MemoryStore([CART])
    loop = asyncio.new_event_loop()
    try:
        tenants = Tenants(store, multitenant=False, max_views=8)
        tenants.open(loop, metrics.changed)
        (tenant,) = tenants
        store.set([CART, BASKET])
        assert tenant.refresh()  # what the loop runs after the store's callback
        store.set([BASKET])
        assert tenant.refresh()
        tenants.close()
    finally:
        loop.close()
    # The default tenant's id is "", which Prometheus reads as no tenant label.
    assert scraped(collector(metrics))["confighub_config_changes_total", (("tenant", ""),)] == 2
    assert metrics.by_tenant() == {DEFAULT_TENANT: (0, 0, 0, 2)}


def test_the_servers_readings_are_gauges_and_counters() -> None:
    """Held polls and agents by state are gauges; snapshots, refusals, errors, requests counters."""
    samples = scraped(
        collector(
            PollMetrics(),
            held=lambda: 7,
            agents=lambda: {"converged": 9, "behind": 2},
            snapshots=lambda: 3,
        )
    )
    assert samples["confighub_held_polls", ()] == 7
    assert samples["confighub_agents", (("state", "behind"),)] == 2
    assert samples["confighub_agents", (("state", "converged"),)] == 9
    assert samples["confighub_snapshots_total", ()] == 3
    assert samples["confighub_auth_failures_total", ()] == 4
    assert samples["confighub_store_errors_total", ()] == 5
    assert samples["confighub_http_requests_total", ()] == 6


def test_store_ready_is_one_while_the_store_serves_its_current_config_and_zero_after() -> None:
    """The gauge follows the store's readiness at each scrape: what /readyz answers."""
    ready = [True]
    source = collector(PollMetrics(), store_ready=lambda: ready[0])
    assert scraped(source)["confighub_store_ready", ()] == 1
    ready[0] = False
    assert scraped(source)["confighub_store_ready", ()] == 0


def test_every_metric_has_help_text_and_the_confighub_prefix() -> None:
    """Each family scraped is named confighub_* and says what it counts."""
    body, _ = exposition(metrics_registry(collector(PollMetrics())))
    families = list(text_string_to_metric_families(body.decode()))
    assert {family.name for family in families} == {
        "confighub_polls",
        "confighub_polls_held",
        "confighub_config_changes",
        "confighub_poll_seconds",
        "confighub_held_polls",
        "confighub_agents",
        "confighub_store_ready",
        "confighub_snapshots",
        "confighub_auth_failures",
        "confighub_store_errors",
        "confighub_http_requests",
    }
    assert all(family.documentation for family in families)


def test_a_reading_that_raises_is_logged_and_the_rest_are_scraped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One failing callable loses its own metric for that scrape, and nothing else."""

    def broken() -> int:
        raise RuntimeError("no count")

    with caplog.at_level(logging.ERROR, logger="confighub.server"):
        samples = scraped(collector(PollMetrics(), held=broken))
    assert ("confighub_held_polls", ()) not in samples
    assert samples["confighub_http_requests_total", ()] == 6
    assert "confighub_held_polls" in caplog.text


def test_two_servers_registries_stand_side_by_side() -> None:
    """Each server's registry shows its own counts; neither touches the global registry."""
    first, second = PollMetrics(), PollMetrics()
    first.polled(answered(VIEW, ""))
    for _ in range(3):
        second.polled(answered(VIEW, ""))
    assert polls(scraped(collector(first)))["/update"] == 1
    assert polls(scraped(collector(second)))["/update"] == 3
    assert prometheus_client.REGISTRY.get_sample_value("confighub_polls_total") is None
    # describe() names the families, so one registry refuses a second collector of them.
    registry = metrics_registry(collector(first))
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        registry.register(collector(second))


def test_tenant_labels_past_the_cap_fold_into_other() -> None:
    """Past 1,000 tenant labels the counts of new tenants go to tenant="other", collision-free."""
    metrics = PollMetrics(clock=Clock())
    tenants = [f"t{n}" for n in range(MAX_TENANT_LABELS - 1)]
    for tenant in [*tenants, "other", "late1", "late2", "late1"]:
        metrics.polled(answered(VIEW, "", tenant=tenant))
    counted = polls(scraped(collector(metrics)))
    assert len({key.partition("/")[0] for key in counted}) == MAX_TENANT_LABELS == 1000
    assert counted["other/update"] == 4  # the real "other" and the three folded polls
    assert "late1/update" not in counted


def test_the_fleets_counts_are_the_agents_gauge() -> None:
    """``Fleet.counts`` as the ``agents`` reading: one converged agent, one behind."""
    fleet = Fleet(clock=lambda: 0.0)
    fleet.polled(answered(VIEW, VIEW.hash, peer="a"))
    fleet.polled(answered(VIEW, "", peer="b"))
    fleet.polled(answered(VIEW, "", peer="c"))
    fleet.polled(answered(VIEW, VIEW.hash, peer="c"))
    samples = scraped(collector(PollMetrics(), agents=fleet.counts))
    assert samples["confighub_agents", (("state", "converged"),)] == 2
    assert samples["confighub_agents", (("state", "behind"),)] == 1


def test_a_tenant_label_cap_below_one_is_refused() -> None:
    """No room for a single tenant label is a ValueError."""
    with pytest.raises(ValueError, match="max_tenant_labels"):
        PollMetrics(max_tenant_labels=0)
