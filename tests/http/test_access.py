"""Credentials and tenants on HTTP: gRPC's checks, on headers; a 401 never says back what came."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import grpc
import pytest
from deepproto.proto.poll.v1 import poll_pb2_grpc

from confighub import TracePoint
from confighub.server import HubServer, MemoryStore
from tests.http.conftest import CART, call
from tests.support.polling import poll

TOKEN = "s3cret-t0ken"
SHOP = TracePoint("shop", "shop/pay.py", 30)
TILL = TracePoint("till", "till/open.py", 3)


@pytest.fixture
def guarded(store: MemoryStore) -> Iterator[HubServer]:
    """A HubServer asking for ``TOKEN`` or basic ``ops:pw``, with HTTP."""
    with HubServer(store, http_port=0, token=TOKEN, basic="ops:pw") as server:
        yield server


@pytest.fixture
def tenanted() -> Iterator[HubServer]:
    """A multi-tenant HubServer of a MemoryStore whose tenants start empty, with HTTP."""
    with HubServer(MemoryStore([CART]), http_port=0, multitenant=True, max_tenants=3) as server:
        yield server


@pytest.mark.parametrize(
    "sent",
    [None, "Bearer wrong-guess-123", "wrong-guess-123", "Basic d3Jvbmc6Z3Vlc3M=", "Token abc"],
)
def test_a_refused_request_is_a_401_that_echoes_nothing(
    guarded: HubServer, sent: str | None
) -> None:
    """Missing or wrong credentials: 401 with WWW-Authenticate, the message never quoting them."""
    headers = {} if sent is None else {"Authorization": sent}
    answer = call("GET", f"{guarded.http_url}/api/tracepoints", headers=headers)
    assert answer.status == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="confighub", Basic realm="confighub"'
    for secret in ("wrong-guess-123", "d3Jvbmc6Z3Vlc3M=", "abc"):
        assert secret not in answer.error
    assert "metadata" not in answer.error  # HTTP's words, not gRPC's
    if sent is None:
        assert answer.error.startswith("missing 'Authorization' header")
    assert "ETag" not in answer.headers
    assert guarded.stats().auth_failures == 1


def test_the_servers_credentials_are_let_in(guarded: HubServer) -> None:
    """The bearer token and the basic credentials are both accepted, on reads and writes."""
    url = f"{guarded.http_url}/api/tracepoints"
    basic = base64.b64encode(b"ops:pw").decode()
    assert call("GET", url, headers={"Authorization": f"Bearer {TOKEN}"}).status == 200
    body = {"tracepoint": {"path": "a.py", "line_number": 1}}
    assert call("POST", url, body=body, headers={"Authorization": f"Basic {basic}"}).status == 200
    assert guarded.stats().auth_failures == 0


def test_probes_need_no_credentials_but_metrics_do(guarded: HubServer) -> None:
    """/healthz and /readyz answer without credentials; /metrics checks them first."""
    assert call("GET", f"{guarded.http_url}/healthz").json() == {"status": "ok"}
    assert call("GET", f"{guarded.http_url}/readyz").json() == {"ready": True}
    assert call("GET", f"{guarded.http_url}/metrics").status == 401
    authorized = {"Authorization": f"Bearer {TOKEN}"}
    metrics = call("GET", f"{guarded.http_url}/metrics", headers=authorized)
    assert metrics.status == 200
    assert "confighub_auth_failures_total 1.0" in metrics.body.decode()


def test_tenants_see_their_own_configs_and_etags(tenanted: HubServer) -> None:
    """Two tenants write and list apart: each sees its own tracepoints and its own ETag."""
    url = f"{tenanted.http_url}/api/tracepoints"
    for tenant, tp in (("shop", SHOP), ("till", TILL)):
        body = {"tracepoint": {"ID": tp.id, "path": tp.path, "line_number": tp.line}}
        assert call("POST", url, body=body, headers={"X-Scope-OrgID": tenant}).status == 200
    shop = call("GET", url, headers={"X-Scope-OrgID": "shop"})
    till = call("GET", url, headers={"X-Scope-OrgID": "till"})
    assert [tp["ID"] for tp in shop.json()["response"]] == ["shop"]
    assert [tp["ID"] for tp in till.json()["response"]] == ["till"]
    assert shop.headers["ETag"] != till.headers["ETag"]
    store = tenanted.store
    assert isinstance(store, MemoryStore)
    assert store.tracepoints == (CART,)  # the default tenant's config is untouched
    assert call("GET", f"{url}/shop", headers={"X-Scope-OrgID": "till"}).status == 404


def test_a_multitenant_request_without_a_tenant_is_a_401(tenanted: HubServer) -> None:
    """With tenancy on, a request naming no tenant is 401 saying which header to send."""
    answer = call("GET", f"{tenanted.http_url}/api/tracepoints")
    assert answer.status == 401
    assert "X-Scope-OrgID" in answer.error
    assert tenanted.stats().auth_failures == 1


@pytest.mark.parametrize("tenant", ["shop/../till", "..", "a b", "x" * 151])
def test_an_invalid_tenant_is_a_400(tenanted: HubServer, tenant: str) -> None:
    """A tenant id with odd characters (or too long) is 400 naming the rule."""
    answer = call("GET", f"{tenanted.http_url}/api/tracepoints", headers={"X-Scope-OrgID": tenant})
    assert answer.status == 400
    assert "invalid tenant id" in answer.error


def test_tenants_past_the_limit_are_a_503(tenanted: HubServer) -> None:
    """Past max_tenants a new tenant is 503; the tenants already served still are."""
    url = f"{tenanted.http_url}/api/tracepoints"
    for tenant in ("one", "two"):  # with the default tenant, three
        assert call("GET", url, headers={"X-Scope-OrgID": tenant}).status == 200
    answer = call("GET", url, headers={"X-Scope-OrgID": "three"})
    assert answer.status == 503
    assert "at most 3 tenants" in answer.error
    assert call("GET", url, headers={"X-Scope-OrgID": "one"}).status == 200


def test_without_tenancy_the_header_is_ignored(api: str, store: MemoryStore) -> None:
    """Tenancy off: every request is the store's own config, whatever tenant it names."""
    answer = call("GET", f"{api}/tracepoints/cart", headers={"X-Scope-OrgID": "anyone"})
    assert answer.status == 200
    assert answer.headers["ETag"] == f'"{store.hash}"'


def test_auth_failures_count_grpc_refusals_and_http_401s(guarded: HubServer) -> None:
    """A poll with a wrong token and an HTTP request without one make two auth failures."""
    with grpc.insecure_channel(guarded.target) as channel:
        stub = poll_pb2_grpc.PollConfigStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            poll(stub, metadata=[("authorization", "Bearer nope")])
    assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert call("GET", f"{guarded.http_url}/api/tracepoints").status == 401
    assert guarded.stats().auth_failures == 2
