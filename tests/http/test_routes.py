"""The tracepoint routes: list as a poll, read, create, replace and delete, ids with slashes."""

from __future__ import annotations

import json

import pytest
from deepproto.proto.poll.v1 import poll_pb2
from google.protobuf import json_format

from confighub import TracePoint
from confighub.server import HubServer, MemoryStore
from tests.http.conftest import CART, CHECKOUT, call

SHOP = TracePoint("shop-only", "shop/pay.py", 30, targeting={"service.name": "shop"})


def test_the_json_list_is_protobufs_json_mapping(api: str, store: MemoryStore) -> None:
    """The JSON answer parses as a PollResponse (tsNanos a string) equal to the protobuf one."""
    answer = call("GET", f"{api}/tracepoints")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    data = answer.json()
    assert isinstance(data["tsNanos"], str)
    assert data["currentHash"] == store.hash
    assert data["responseType"] == "UPDATE"
    parsed = json_format.Parse(answer.body, poll_pb2.PollResponse())
    assert [TracePoint.from_proto(tp) for tp in parsed.response] == [CHECKOUT, CART]


def test_the_json_list_says_no_change_for_the_current_hash(api: str, store: MemoryStore) -> None:
    """``hash`` equal to the view's gives NO_CHANGE with the same tracepoints listed."""
    changed = call("GET", f"{api}/tracepoints?hash=old").json()
    same = call("GET", f"{api}/tracepoints?hash={store.hash}").json()
    assert (changed["responseType"], same["responseType"]) == ("UPDATE", "NO_CHANGE")
    assert changed["response"] == same["response"]


def test_query_parameters_are_the_resource_a_view_is_chosen_by(store: MemoryStore) -> None:
    """The query's attributes choose the view: the shop gets its targeted tracepoint, others not."""
    store.add(SHOP)
    with HubServer(store, http_port=0) as server:
        url = f"{server.http_url}/api/tracepoints"
        shop = call("GET", f"{url}?service.name=shop&ts=123").json()
        other = call("GET", f"{url}?service.name=till").json()
        bare = call("GET", url).json()
    assert [tp["ID"] for tp in shop["response"]] == [CHECKOUT.id, CART.id, SHOP.id]
    assert [tp["ID"] for tp in other["response"]] == [CHECKOUT.id, CART.id]
    assert other["currentHash"] == bare["currentHash"] != shop["currentHash"]


def test_the_json_of_a_view_is_made_once(
    api: str, http_server: HubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lists of one view share its JSON: each tracepoint is made JSON once, across lists."""
    made: list[str] = []
    to_json = TracePoint.to_json

    def counted(tp: TracePoint) -> dict[str, object]:
        made.append(tp.id)
        return to_json(tp)

    monkeypatch.setattr(TracePoint, "to_json", counted)
    first = call("GET", f"{api}/tracepoints").json()
    bodies = http_server.stats().serializations
    second = call("GET", f"{api}/tracepoints?hash={first['currentHash']}").json()
    assert made == [CHECKOUT.id, CART.id]
    assert http_server.stats().serializations == bodies
    assert first["response"] == second["response"]
    assert first["tsNanos"].isdigit()
    assert second["tsNanos"].isdigit()


def test_a_large_view_is_listed_from_a_worker_thread_alike(store: MemoryStore) -> None:
    """A view of 1,000 tracepoints (serialized off the loop) lists them all, in both forms."""
    many = [TracePoint(f"tp-{i}", f"shop/m{i % 7}.py", i + 1) for i in range(1000)]
    store.set(many)
    with HubServer(store, http_port=0) as server:
        url = f"{server.http_url}/api/tracepoints"
        listed = call("GET", url).json()["response"]
        proto = call("GET", url, headers={"Accept": "application/protobuf"}).body
    assert [tp["ID"] for tp in listed] == [tp.id for tp in many]
    assert len(poll_pb2.PollResponse.FromString(proto).response) == 1000


@pytest.mark.parametrize("path", ["shop%2Fcheckout.py%3A42", "shop/checkout.py:42"])
def test_an_id_with_a_slash_works_encoded_or_raw(api: str, store: MemoryStore, path: str) -> None:
    """GET, PUT and DELETE find ``shop/checkout.py:42`` whether the slash is encoded or not."""
    url = f"{api}/tracepoints/{path}"
    assert call("GET", url).json() == {"tracepoint": CHECKOUT.to_json()}
    body = {"tracepoint": {"path": "shop/checkout.py", "lineNumber": 43}}
    replaced = call("PUT", url, body=body)
    assert replaced.status == 200
    assert replaced.json()["tracepoint"]["ID"] == CHECKOUT.id
    assert store.tracepoints[0] == TracePoint(CHECKOUT.id, "shop/checkout.py", 43)
    assert call("DELETE", url).json()["deleted"]["lineNumber"] == 43
    assert store.tracepoints == (CART,)


def test_an_encoded_percent_is_decoded_once(api: str, store: MemoryStore) -> None:
    """``a%252Fb`` names the id ``a%2Fb``, not ``a/b``: the id is decoded exactly once."""
    store.add(TracePoint("a%2Fb", "x.py", 1))
    assert call("GET", f"{api}/tracepoints/a%252Fb").json()["tracepoint"]["ID"] == "a%2Fb"


def test_post_with_an_id_creates_that_id(api: str, store: MemoryStore) -> None:
    """A body naming an ID creates that id, in either field spelling of protobuf's JSON."""
    body = {"tracepoint": {"ID": "pay", "path": "shop/pay.py", "line_number": 30}}
    answer = call("POST", f"{api}/tracepoints", body=body)
    assert answer.json() == {"created": TracePoint("pay", "shop/pay.py", 30).to_json()}
    assert store.tracepoints[-1].id == "pay"


def test_put_is_idempotent_and_creates_when_missing(api: str, store: MemoryStore) -> None:
    """PUT of a new id adds it; the same PUT again changes nothing, the ETag stays."""
    body = {"tracepoint": {"path": "shop/new.py", "line_number": 5}}
    first = call("PUT", f"{api}/tracepoints/new", body=body)
    version = store.version
    second = call("PUT", f"{api}/tracepoints/new", body=body)
    assert first.status == second.status == 200
    assert first.headers["ETag"] == second.headers["ETag"] == f'"{store.hash}"'
    assert store.version == version
    assert [tp.id for tp in store.tracepoints] == [CHECKOUT.id, CART.id, "new"]


def test_put_with_the_urls_id_in_the_body_is_taken(api: str, store: MemoryStore) -> None:
    """A body whose ID equals the URL's is fine: the check is only that they agree."""
    body = {"tracepoint": {"ID": "cart", "path": "shop/cart.py", "line_number": 13}}
    assert call("PUT", f"{api}/tracepoints/cart", body=body).status == 200
    assert store.tracepoints[1].line == 13


def test_a_write_answers_with_the_new_configs_etag(api: str, store: MemoryStore) -> None:
    """Each write's ETag is the hash of the config it made; a read's that of the config read."""
    before = call("GET", f"{api}/tracepoints/cart").headers["ETag"]
    written = call("DELETE", f"{api}/tracepoints/cart").headers["ETag"]
    assert before != written == f'"{store.hash}"'


def test_a_response_body_is_json_without_surprises(api: str) -> None:
    """A read's body is exactly ``{"tracepoint": ...}``: no field besides it."""
    answer = call("GET", f"{api}/tracepoints/cart")
    assert json.loads(answer.body) == {"tracepoint": CART.to_json()}
