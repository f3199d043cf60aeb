"""``PUT /api/tracepoints``: a whole config in one atomic step, and its refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from deepproto.proto.poll.v1 import poll_pb2

from confighub import ConfigHub, TracePoint, config_hash
from confighub.files import dump_tracepoints
from confighub.server import FileStore, HubServer, MemoryStore, StoreState
from confighub.sources import GrpcPollSource
from tests.http.conftest import CART, CHECKOUT, call
from tests.support.observing import record_changes
from tests.support.stores import PlainStore, UninitializedStore
from tests.support.waiting import Recorder, wait_until

MOVED = TracePoint("cart", "shop/cart.py", 13)
PAY = TracePoint("pay", "shop/pay.py", 30)
TILL = TracePoint("till", "till/open.py", 3)
NEW = (MOVED, PAY, TILL)
"""The config a PUT sets: CART changed, CHECKOUT gone, two added."""


def whole(*tracepoints: TracePoint) -> dict[str, object]:
    """The body of a PUT of ``tracepoints`` as the whole config."""
    return {"tracepoints": [tp.to_json() for tp in tracepoints]}


def test_put_sets_the_whole_config_in_one_version(api: str, store: MemoryStore) -> None:
    """200 with the config as stored, ETag its hash, one version more; JSON without ID gets one."""
    version = store.version
    nameless = {"path": "shop/new.py", "lineNumber": 5}
    body = {"tracepoints": [*(tp.to_json() for tp in NEW), nameless]}
    answer = call("PUT", f"{api}/tracepoints", body=body)
    assert answer.status == 200
    assert answer.headers["ETag"] == f'"{store.hash}"'
    assert store.version == version + 1
    assert store.tracepoints[:3] == NEW
    made = store.tracepoints[3]
    assert (made.path, made.line, len(made.id)) == ("shop/new.py", 5, 32)
    assert answer.json() == {"tracepoints": [tp.to_json() for tp in store.tracepoints]}


def test_put_of_the_same_config_changes_nothing(api: str, store: MemoryStore) -> None:
    """The config it holds already, set again: 200, the same ETag, no new version."""
    before = store.state
    answer = call("PUT", f"{api}/tracepoints", body=whole(CHECKOUT, CART))
    assert answer.status == 200
    assert answer.headers["ETag"] == f'"{before.hash}"'
    assert store.state == before


def test_an_empty_list_empties_the_config(api: str, store: MemoryStore) -> None:
    """``{"tracepoints": []}`` is a config of none, not a refusal."""
    answer = call("PUT", f"{api}/tracepoints", body={"tracepoints": []})
    assert answer.json() == {"tracepoints": []}
    assert store.tracepoints == ()


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"[1]", "must be a JSON object"),
        (b'{"tracepoint": {}}', "unknown field 'tracepoint'"),
        (b'{"tracepoints": [], "force": true}', "unknown field 'force'"),
        (b"{}", 'no "tracepoints"'),
        (b'{"tracepoints": {"ID": "a"}}', '"tracepoints" must be a list'),
        (b'{"tracepoints": [{"path": "a.py", "lineNumber": 1}, 7]}', "tracepoints[1]: "),
        (
            b'{"tracepoints": [{"path": "a.py", "lineNumber": 1}, {"path": "", "lineNumber": 2}]}',
            "tracepoints[1]: invalid tracepoint",
        ),
        (b'{"tracepoints": [{"path": "a.py", "lineNumber": "x"}]}', "tracepoints[0]: "),
        (b"{not json", "not JSON"),
    ],
)
def test_a_bad_body_is_a_400_naming_the_element(
    api: str, store: MemoryStore, data: bytes, said: str
) -> None:
    """A wrong shape, an unknown field, a bad element (named by its index): 400, nothing set."""
    before = store.state
    answer = call(
        "PUT", f"{api}/tracepoints", data=data, headers={"Content-Type": "application/json"}
    )
    assert answer.status == 400
    assert said in answer.error
    assert answer.headers["ETag"] == f'"{before.hash}"'
    assert store.state == before


def test_a_bad_element_is_named_in_a_bounded_message(api: str, store: MemoryStore) -> None:
    """A line number of 100,000 letters in element 2: the message names it, cut to a bound."""
    bad = {"path": "a.py", "lineNumber": "x" * 100_000}
    body = {"tracepoints": [PAY.to_json(), TILL.to_json(), bad]}
    answer = call("PUT", f"{api}/tracepoints", body=body)
    assert answer.status == 400
    assert answer.error.startswith("tracepoints[2]: invalid tracepoint")
    assert "'lineNumber'" in answer.error
    assert len(answer.error) < 1000
    assert store.tracepoints == (CHECKOUT, CART)


def test_a_repeated_id_is_a_400(api: str, store: MemoryStore) -> None:
    """Two elements of one id cannot both be the config: 400 naming it, nothing set."""
    answer = call("PUT", f"{api}/tracepoints", body=whole(PAY, TracePoint("pay", "b.py", 2)))
    assert answer.status == 400
    assert "'pay'" in answer.error
    assert "used by two tracepoints" in answer.error
    assert store.tracepoints == (CHECKOUT, CART)


def test_a_stale_if_match_is_a_412_and_sets_nothing(api: str, store: MemoryStore) -> None:
    """Set against a hash the config no longer has: 412 naming the current one; nothing changed."""
    read = call("GET", f"{api}/tracepoints").headers["ETag"]
    store.add(PAY)
    after = store.state
    answer = call("PUT", f"{api}/tracepoints", body=whole(*NEW), headers={"If-Match": read})
    assert answer.status == 412
    assert answer.headers["ETag"] == f'"{after.hash}"'
    assert store.state == after
    current = {"If-Match": f'"{after.hash}"'}
    assert call("PUT", f"{api}/tracepoints", body=whole(*NEW), headers=current).status == 200
    assert store.tracepoints == NEW


def test_a_body_over_the_limit_or_not_json_is_refused(store: MemoryStore) -> None:
    """A whole config past max_body_size is 413, one not sent as JSON 415; nothing set."""
    with HubServer(store, http_port=0, max_body_size=1000) as server:
        url = f"{server.http_url}/api/tracepoints"
        many = [TracePoint(f"tp-{i}", "shop/many.py", i + 1) for i in range(50)]
        too_big = call("PUT", url, body=whole(*many))
        text = call("PUT", url, data=b"{}", headers={"Content-Type": "text/plain"})
    assert (too_big.status, text.status) == (413, 415)
    assert "max_body_size" in too_big.error
    assert store.tracepoints == (CHECKOUT, CART)


def test_held_polls_and_subscribers_see_one_change_to_the_whole_config(
    store: MemoryStore, hub: ConfigHub
) -> None:
    """A long-polling client and a store subscriber each see old → new once, never a part of it."""
    states: Recorder[StoreState] = Recorder()
    store.subscribe(states)
    with HubServer(store, http_port=0, max_hold=30) as server:
        changes = record_changes(hub)
        with GrpcPollSource(server.target, hub, hold=30, interval=0.05, timeout=40):
            changes.wait_for(lambda seen: len(seen) == 1, "the first config")
            wait_until(lambda: server.stats().held == 1, "the client's held poll")
            url = f"{server.http_url}/api/tracepoints"
            assert call("PUT", url, body=whole(*NEW)).status == 200
            seen = changes.wait_for(lambda seen: len(seen) == 2, "the set, through the hold")
            wait_until(lambda: server.stats().held == 1, "the client holding the new config")
            assert len(changes.items) == 2
    assert (seen[1].old, seen[1].new) == ((CHECKOUT, CART), NEW)
    assert [state.tracepoints for state in states.items] == [NEW]


def test_put_is_served_under_a_prefix_and_deeps_base(store: MemoryStore) -> None:
    """Under http_prefix, both /api and Deep's /tracepoints/api take the PUT; the bare host not."""
    with HubServer(store, http_port=0, http_prefix="/confighub") as server:
        root = f"http://127.0.0.1:{server.http_port}"
        assert call("PUT", f"{root}/api/tracepoints", body=whole(PAY)).status == 404
        for base, config in (("/api", (PAY,)), ("/tracepoints/api", (TILL,))):
            answer = call("PUT", f"{root}/confighub{base}/tracepoints", body=whole(*config))
            assert answer.status == 200
            assert store.tracepoints == config


def test_a_tenants_put_sets_only_its_config() -> None:
    """With tenancy on, the PUT sets the named tenant's config; the others are as they were."""
    store = MemoryStore([CART])
    store.tenant("till").set([TILL])
    with HubServer(store, http_port=0, multitenant=True) as server:
        url = f"{server.http_url}/api/tracepoints"
        shop = {"X-Scope-OrgID": "shop"}
        answer = call("PUT", url, body=whole(PAY, CHECKOUT), headers=shop)
        assert answer.status == 200
        assert answer.headers["ETag"] == f'"{config_hash([PAY, CHECKOUT])}"'
        assert call("PUT", url, body=whole(PAY)).status == 401
    assert store.tenant("shop").tracepoints == (PAY, CHECKOUT)
    assert store.tenant("till").tracepoints == (TILL,)
    assert store.tracepoints == (CART,)


def test_a_store_that_takes_no_writes_refuses_the_set(tmp_path: Path, store: MemoryStore) -> None:
    """A FileStore answers 409 naming its file (untouched); a plain Store 409 too."""
    file = tmp_path / "tracepoints.yaml"
    file.write_text(dump_tracepoints([CART]), encoding="utf-8")
    before = file.read_bytes()
    with FileStore(file, watch=False) as files, HubServer(files, http_port=0) as server:
        answer = call("PUT", f"{server.http_url}/api/tracepoints", body=whole(PAY))
        assert answer.status == 409
        assert str(file) in answer.error
    assert file.read_bytes() == before
    with HubServer(PlainStore(store), http_port=0) as server:
        answer = call("PUT", f"{server.http_url}/api/tracepoints", body=whole(PAY))
        assert answer.status == 409
        assert "this store takes no writes" in answer.error
    assert store.tracepoints == (CHECKOUT, CART)


def test_a_listing_says_when_the_store_is_not_initialized(
    api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``"initialized": false`` in the JSON list of such a store, its view's JSON still made once.

    A store without the attribute lists exactly Deep's fields.
    """
    plain = call("GET", f"{api}/tracepoints").json()
    assert set(plain) == {"tsNanos", "responseType", "currentHash", "response"}
    made: list[str] = []
    to_json = TracePoint.to_json

    def counted(tp: TracePoint) -> dict[str, object]:
        made.append(tp.id)
        return to_json(tp)

    monkeypatch.setattr(TracePoint, "to_json", counted)
    with HubServer(UninitializedStore([CART]), http_port=0) as server:
        url = f"{server.http_url}/api/tracepoints"
        first = call("GET", url).json()
        again = call("GET", f"{url}?hash={first['currentHash']}").json()
        proto = call("GET", url, headers={"Accept": "application/protobuf"})
    assert made == ["cart"]
    assert (first["responseType"], again["responseType"]) == ("UPDATE", "NO_CHANGE")
    for listed in (first, again):
        assert listed["initialized"] is False
        assert listed["response"] == [to_json(CART)]
    assert [tp.ID for tp in poll_pb2.PollResponse.FromString(proto.body).response] == ["cart"]
