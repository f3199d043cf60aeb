"""GrpcPollSource's ``tenant=`` against a real multi-tenant HubServer: routing and refusals.

A poll without a tenant to a multi-tenant server ends ``UNAUTHENTICATED``, which is a
fatal ``PollFailed``: no retry can name the tenant the poll left out, so the source
retries only at the backoff cap and a command gives up at once (see ``cli/_polling``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from confighub import ConfigHub, SourceState, TracePoint, config_hash
from confighub.exceptions import PollFailed
from confighub.server import HubServer, MemoryStore
from confighub.sources import GrpcPollSource
from tests.support.observing import states, watch

SHOP = TracePoint("checkout", "shop/checkout.py", 42)
BANK = TracePoint("ledger", "bank/ledger.py", 7)


@pytest.fixture
def store() -> MemoryStore:
    """A store whose tenant "a" holds SHOP and tenant "b" holds BANK; its own config is empty."""
    store = MemoryStore()
    store.tenant("a").set([SHOP])
    store.tenant("b").set([BANK])
    return store


@pytest.fixture
def multitenant(store: MemoryStore) -> Iterator[HubServer]:
    """A multi-tenant HubServer of ``store``, stopped after the test."""
    with HubServer(store, multitenant=True) as server:
        yield server


def test_each_tenant_gets_its_own_config_and_hash(multitenant: HubServer) -> None:
    """Polls naming tenants "a" and "b" get SHOP and BANK, each under its own config hash."""
    for tenant, expected in (("a", SHOP), ("b", BANK)):
        with ConfigHub() as hub:
            source = GrpcPollSource(multitenant.target, hub, tenant=tenant)
            result = source.poll_once()
            source.stop()
            assert result.updated
            assert hub.server_config == (expected,)
            assert result.server_hash == config_hash([expected])


def test_a_new_tenant_gets_an_empty_config(multitenant: HubServer) -> None:
    """A tenant the store never saw is served its own empty config, not another's."""
    with ConfigHub() as hub:
        source = GrpcPollSource(multitenant.target, hub, tenant="newcomer")
        source.poll_once()
        source.stop()
        assert hub.server_config == ()


def test_a_poll_without_tenant_is_refused_for_good(multitenant: HubServer) -> None:
    """No tenant: UNAUTHENTICATED naming x-scope-orgid, a fatal failure, the hub INTERRUPTED."""
    with ConfigHub() as hub:
        source = GrpcPollSource(multitenant.target, hub)
        with pytest.raises(PollFailed) as caught:
            source.poll_once()
        source.stop()
    assert caught.value.code == "UNAUTHENTICATED"
    assert caught.value.fatal
    assert "x-scope-orgid" in str(caught.value)
    with ConfigHub() as hub:
        _, statuses = watch(hub)
        with GrpcPollSource(multitenant.target, hub, backoff_initial=0.01):
            seen = statuses.wait_for(
                lambda items: SourceState.INTERRUPTED in states(items), "the refusal"
            )
    [interrupted] = [status for status in seen if status.state is SourceState.INTERRUPTED]
    assert isinstance(interrupted.error, PollFailed)
    assert interrupted.error.fatal


@pytest.mark.parametrize("tenant", ["", "..", "a b", "x" * 151, "ten/ant"])
def test_an_invalid_tenant_is_a_value_error_at_construction(tenant: str) -> None:
    """An id the servers would refuse fails before any channel opens, naming the rule."""
    with ConfigHub() as hub, pytest.raises(ValueError, match="invalid tenant id"):
        GrpcPollSource("127.0.0.1:1", hub, tenant=tenant)


def test_tenancy_off_ignores_the_tenant(store: MemoryStore) -> None:
    """A server with tenancy off serves its own config whatever tenant the poll names."""
    store.set([SHOP, BANK])
    with HubServer(store) as server, ConfigHub() as hub:
        source = GrpcPollSource(server.target, hub, tenant="a")
        source.poll_once()
        source.stop()
        assert hub.server_config == (SHOP, BANK)
