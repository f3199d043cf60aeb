"""``ETag`` and ``If-Match``: answers name the config's hash; a stale write changes nothing."""

from __future__ import annotations

import pytest

from confighub.server import MemoryStore
from tests.http.conftest import CART, CHECKOUT, call

BODY = {"tracepoint": {"path": "shop/cart.py", "line_number": 99}}


def test_every_tenant_answer_carries_the_config_hash(api: str, store: MemoryStore) -> None:
    """Reads, lists and refusals alike carry ``ETag: "<hash>"`` of the whole config."""
    tag = f'"{store.hash}"'
    answers = [
        call("GET", f"{api}/tracepoints"),
        call("GET", f"{api}/tracepoints", headers={"Accept": "application/protobuf"}),
        call("GET", f"{api}/tracepoints/cart"),
        call("GET", f"{api}/tracepoints/nope"),
        call("POST", f"{api}/tracepoints", data=b"{", headers={"Content-Type": "application/json"}),
    ]
    assert [answer.headers["ETag"] for answer in answers] == [tag] * len(answers)


def test_two_writers_the_second_with_the_old_etag_gets_412(api: str, store: MemoryStore) -> None:
    """Both read the same ETag; the first write wins, the second is 412 and changes nothing."""
    read = call("GET", f"{api}/tracepoints/cart").headers["ETag"]
    first = call("PUT", f"{api}/tracepoints/cart", body=BODY, headers={"If-Match": read})
    assert first.status == 200
    after_first = store.state
    body = {"tracepoint": {"path": "shop/cart.py", "line_number": 7}}
    second = call("PUT", f"{api}/tracepoints/cart", body=body, headers={"If-Match": read})
    assert second.status == 412
    assert after_first.hash in second.error
    assert second.headers["ETag"] == f'"{after_first.hash}"' == first.headers["ETag"]
    assert store.state == after_first
    assert store.tracepoints[1].line == 99


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_every_write_honours_if_match(api: str, store: MemoryStore, method: str) -> None:
    """POST, PUT and DELETE each refuse a stale If-Match with 412 and apply a current one."""
    url = f"{api}/tracepoints" if method == "POST" else f"{api}/tracepoints/cart"
    body = None if method == "DELETE" else BODY
    stale = call(method, url, body=body, headers={"If-Match": '"0123"'})
    assert stale.status == 412
    assert store.tracepoints == (CHECKOUT, CART)
    current = call(method, url, body=body, headers={"If-Match": f'"{store.hash}"'})
    assert current.status == 200
    assert store.tracepoints != (CHECKOUT, CART)


@pytest.mark.parametrize("spelled", ['W/"{}"', "{}", "*"])
def test_weak_unquoted_and_any_if_match_are_taken(
    api: str, store: MemoryStore, spelled: str
) -> None:
    """``W/"<hash>"``, a bare hash and ``*`` all let a write of the current config through."""
    tag = spelled.format(store.hash)
    answer = call("PUT", f"{api}/tracepoints/cart", body=BODY, headers={"If-Match": tag})
    assert answer.status == 200


def test_if_match_of_two_etags_is_a_400(api: str, store: MemoryStore) -> None:
    """A list of ETags cannot be one compare-and-set: 400, and nothing written."""
    both = f'"{store.hash}", "other"'
    answer = call("PUT", f"{api}/tracepoints/cart", body=BODY, headers={"If-Match": both})
    assert answer.status == 400
    assert "more than one ETag" in answer.error
    assert store.tracepoints == (CHECKOUT, CART)
