"""ManagementClient against a real HubServer's HTTP API on loopback: reads, writes, refusals."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from confighub import ConfigHub, TracePoint, config_hash
from confighub.exceptions import ManagementError
from confighub.manage import Listing, ManagementClient, Written
from confighub.server import HubServer, MemoryStore
from confighub.sources import GrpcPollSource
from tests.support.stores import UninitializedStore
from tests.support.waiting import wait_until

CHECKOUT = TracePoint("checkout", "shop/checkout.py", 42)
CART = TracePoint("cart", "shop/cart.py", 17, {"log_msg": "cart {size}"})
SLASHED = TracePoint("shop/pay.py:7", "shop/pay.py", 7)
SECRET = "s3cret-value"


@pytest.fixture
def store() -> MemoryStore:
    """A store holding CHECKOUT."""
    return MemoryStore([CHECKOUT])


@pytest.fixture
def server(store: MemoryStore) -> Iterator[HubServer]:
    """A HubServer of ``store`` with its HTTP API on a free port."""
    with HubServer(store, http_port=0) as hub_server:
        yield hub_server


@pytest.fixture
def client(server: HubServer) -> ManagementClient:
    """A client of ``server``'s HTTP API."""
    return ManagementClient(server.http_url)


def test_list_gives_the_config_and_its_hash(client: ManagementClient, store: MemoryStore) -> None:
    """The tracepoints served, in order, under the store's config hash."""
    store.add(CART)
    listing = client.list()
    assert listing.tracepoints == (CHECKOUT, CART)
    assert listing.hash == store.hash == config_hash([CHECKOUT, CART])


def test_get_a_tracepoint_or_404(client: ManagementClient) -> None:
    """A known id reads back equal; an unknown one is a ManagementError of status 404."""
    assert client.get("checkout") == CHECKOUT
    with pytest.raises(ManagementError) as caught:
        client.get("nothing-here")
    assert caught.value.status == 404
    assert "GET " in str(caught.value)
    assert "404 Not Found" in str(caught.value)


def test_writes_chain_their_hashes(client: ManagementClient, store: MemoryStore) -> None:
    """create, put and delete each return the hash after them, the If-Match of the next."""
    created = client.create(CART, if_match=client.list().hash)
    assert created == (store.hash, CART)
    changed = TracePoint("cart", "shop/cart.py", 18)
    replaced = client.put(changed, if_match=created.hash)
    assert replaced.tracepoint == changed
    deleted = client.delete("cart", if_match=replaced.hash)
    assert deleted.tracepoint == changed
    assert deleted.hash == store.hash == config_hash([CHECKOUT])


def test_a_stale_if_match_is_a_412_and_changes_nothing(
    client: ManagementClient, store: MemoryStore
) -> None:
    """A write naming a hash the config no longer has is refused; the store is as it was."""
    old = client.list().hash
    store.add(CART)
    writes: list[Callable[[], Written | Listing]] = [
        lambda: client.put(TracePoint("checkout", "shop/checkout.py", 1), if_match=old),
        lambda: client.delete("cart", if_match=old),
        lambda: client.create(SLASHED, if_match=old),
        lambda: client.set([SLASHED], if_match=old),
    ]
    for write in writes:
        with pytest.raises(ManagementError) as caught:
            write()
        assert caught.value.status == 412
    assert store.tracepoints == (CHECKOUT, CART)


def test_set_writes_the_whole_config_in_one_step(
    client: ManagementClient, store: MemoryStore
) -> None:
    """The config as stored and the hash after, one version more; JSON without ID gets one."""
    version = store.version
    listing = client.set([CART, {"path": "shop/new.py", "lineNumber": 3}, SLASHED])
    assert store.version == version + 1
    assert listing == (store.hash, store.tracepoints, True)
    cart, made, slashed = listing.tracepoints
    assert (cart, slashed) == (CART, SLASHED)
    assert (made.path, made.line, bool(made.id)) == ("shop/new.py", 3, True)
    assert client.set([], if_match=listing.hash) == (config_hash([]), (), True)
    assert store.tracepoints == ()


def test_set_of_an_id_used_twice_is_a_400(client: ManagementClient, store: MemoryStore) -> None:
    """Two tracepoints of one id cannot be a config: refused, the server naming the id."""
    with pytest.raises(ManagementError) as caught:
        client.set([CART, TracePoint("cart", "shop/other.py", 1)])
    assert caught.value.status == 400
    assert "'cart'" in caught.value.reason
    assert store.tracepoints == (CHECKOUT,)


def test_listing_says_whether_the_store_is_initialized(client: ManagementClient) -> None:
    """True for a store that says nothing; False when the server's list says so."""
    assert client.list().initialized is True
    with HubServer(UninitializedStore([CART]), http_port=0) as server:
        listing = ManagementClient(server.http_url).list()
    assert listing == (config_hash([CART]), (CART,), False)
    assert Listing("ab12", ()) == ("ab12", (), True)


def test_create_json_without_id_and_an_id_in_use(client: ManagementClient) -> None:
    """JSON without an ID gets one from the server; an id in use is a 409."""
    written = client.create({"path": "shop/new.py", "lineNumber": 3})
    assert written.tracepoint.path == "shop/new.py"
    assert written.tracepoint.id
    assert client.get(written.tracepoint.id) == written.tracepoint
    with pytest.raises(ManagementError) as caught:
        client.create(CHECKOUT)
    assert caught.value.status == 409


def test_ids_with_slashes_and_spaces_are_one_path_segment(client: ManagementClient) -> None:
    """Percent-encoded ids holding '/', ' ', '%' and '?' reach the one tracepoint they name."""
    odd = TracePoint("a b/c%d?e", "shop/odd.py", 1)
    for tp in (SLASHED, odd):
        client.put(tp)
        assert client.get(tp.id) == tp
        assert client.delete(tp.id).tracepoint == tp


def test_delete_of_an_unknown_id_is_a_404(client: ManagementClient) -> None:
    """The server's own words come through, bounded, with the status."""
    with pytest.raises(ManagementError) as caught:
        client.delete("x" * 5000)
    assert caught.value.status == 404
    assert len(str(caught.value)) < 1500


def test_agents_after_a_poll(server: HubServer, client: ManagementClient) -> None:
    """A GrpcPollSource that polled twice is listed, converged on the hash it holds.

    Its first poll is answered with the config, so it is behind until a poll holding it.
    """
    with ConfigHub() as hub:
        source = GrpcPollSource(server.target, hub, resource={"service": "shop"})
        source.poll_once()
        assert client.agents()[0]["converged"] is False
        source.poll_once()
        source.stop()
    wait_until(lambda: bool(client.agents()), "the agent to be listed")
    [agent] = client.agents()
    assert agent["converged"] is True
    assert agent["hash"] == config_hash([CHECKOUT])
    assert agent["resource"] == {"service": "shop"}
    assert {"tenant", "peer", "firstSeen", "lastSeen"} <= agent.keys()


def test_tenants_are_routed_by_header(store: MemoryStore) -> None:
    """Each tenant reads and writes its own config; naming none is refused with a 401."""
    store.tenant("a").set([CART])
    with HubServer(store, http_port=0, multitenant=True) as server:
        a = ManagementClient(server.http_url, tenant="a")
        b = ManagementClient(server.http_url, tenant="b")
        assert a.list().tracepoints == (CART,)
        b.put(SLASHED)
        assert store.tenant("b").tracepoints == (SLASHED,)
        assert a.list().tracepoints == (CART,)
        with pytest.raises(ManagementError) as caught:
            ManagementClient(server.http_url).list()
        assert caught.value.status == 401
        assert "x-scope-orgid" in caught.value.reason.lower()


def test_credentials_are_sent_and_never_shown(store: MemoryStore) -> None:
    """The right token or basic pair is accepted; a wrong one is a 401 that quotes neither."""
    with HubServer(store, http_port=0, token=SECRET, basic="ann:pa55") as server:
        assert ManagementClient(server.http_url, token=SECRET).get("checkout") == CHECKOUT
        assert ManagementClient(server.http_url, basic="ann:pa55").list().tracepoints
        for wrong in ({"token": "wrong-token"}, {"basic": "ann:wrong-pass"}, {}):
            with pytest.raises(ManagementError) as caught:
                ManagementClient(server.http_url, **wrong).list()  # type: ignore[arg-type]
            assert caught.value.status == 401
            for secret in (SECRET, "wrong-token", "wrong-pass", "pa55"):
                assert secret not in str(caught.value)


def test_a_prefix_is_part_of_the_url(store: MemoryStore) -> None:
    """A server under http_prefix answers at its http_url, and not at the bare host."""
    with HubServer(store, http_port=0, http_prefix="/hub") as server:
        assert server.http_url.endswith("/hub")
        assert ManagementClient(server.http_url + "/").get("checkout") == CHECKOUT
        bare = server.http_url.removesuffix("/hub")
        with pytest.raises(ManagementError) as caught:
            ManagementClient(bare).list()
        assert caught.value.status == 404
