"""The requests Deep's Grafana datasource and Deep's own CLI send, answered as Deep answers them.

The datasource (``intergral/grafana-deep-datasource``) lists tracepoints with
``GET /api/tracepoints`` and ``Accept: application/protobuf``, decoding the body
as a ``PollResponse``; creates one with a JSON ``POST`` of ``{"tracepoint": ...}``
in proto field names (``line_number``, ``args.fire_count`` as a string, targeting
as ``KeyValue`` JSON, metrics with a type name); deletes with
``DELETE /api/tracepoints/{id}``; and its "Test" button wants ``GET /api/echo`` to
say exactly ``echo`` and a newline. Deep's CLI posts ``{"Tracepoint": ...}`` under
``/tracepoints/api``.
"""

from __future__ import annotations

from deepproto.proto.poll.v1 import poll_pb2

from confighub import TracePoint
from confighub.server import HubServer, MemoryStore
from tests.http.conftest import CART, CHECKOUT, call

PROTOBUF = {"Accept": "application/protobuf"}


def datasource_create_body() -> dict[str, object]:
    """The body ``handleCreateTracepoint`` builds for a log tracepoint targeting one service."""
    return {
        "tracepoint": {
            "path": "shop/pay.py",
            "line_number": 30,
            "args": {"fire_count": "1", "log_msg": "paid {amount}"},
            "watches": ["amount"],
            "targeting": [{"key": "service.name", "value": {"stringValue": "shop"}}],
            "metrics": [{"name": "payments", "expression": "amount", "type": "COUNTER"}],
        }
    }


def test_the_tracepoint_list_is_a_protobuf_poll_response(api: str, store: MemoryStore) -> None:
    """The datasource's list call decodes as a PollResponse of the whole config, as UPDATE."""
    answer = call("GET", f"{api}/tracepoints", headers=PROTOBUF)
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "application/protobuf"
    response = poll_pb2.PollResponse.FromString(answer.body)
    assert response.response_type == poll_pb2.UPDATE
    assert response.current_hash == store.hash
    assert response.ts_nanos > 0
    assert [TracePoint.from_proto(tp) for tp in response.response] == [CHECKOUT, CART]


def test_the_create_body_the_datasource_builds_is_taken(api: str, store: MemoryStore) -> None:
    """The datasource's POST creates its tracepoint under a fresh id, answered as ``created``."""
    answer = call("POST", f"{api}/tracepoints", body=datasource_create_body())
    assert answer.status == 200
    created = answer.json()["created"]
    made = store.tracepoints[-1]
    assert created == made.to_json()
    assert len(made.id) == 32  # a uuid4's hex
    assert (made.path, made.line, made.log_msg) == ("shop/pay.py", 30, "paid {amount}")
    assert made.targeting == {"service.name": "shop"}
    assert [metric.name for metric in made.metrics] == ["payments"]
    assert answer.headers["ETag"] == f'"{store.hash}"'


def test_the_datasource_deletes_by_id(api: str, store: MemoryStore) -> None:
    """``DELETE /api/tracepoints/{id}`` removes it and answers it as ``deleted``."""
    answer = call("DELETE", f"{api}/tracepoints/cart")
    assert answer.status == 200
    assert answer.json() == {"deleted": CART.to_json()}
    assert store.tracepoints == (CHECKOUT,)


def test_the_test_button_gets_exactly_echo(http_server: HubServer) -> None:
    """``GET /api/echo`` answers ``echo`` and a newline as text, under both of Deep's bases."""
    for base in ("/api", "/tracepoints/api"):
        answer = call("GET", f"{http_server.http_url}{base}/echo")
        assert answer.status == 200
        assert answer.body == b"echo\n"
        assert answer.headers["Content-Type"].startswith("text/plain")


def test_the_echo_needs_no_credentials(store: MemoryStore) -> None:
    """The "Test" button sends no Authorization header, and the echo answers it all the same."""
    with HubServer(store, http_port=0, token="s3cret") as server:
        assert call("GET", f"{server.http_url}/api/echo").body == b"echo\n"
        assert call("GET", f"{server.http_url}/api/tracepoints").status == 401


def test_deeps_cli_posts_under_its_internal_base(
    http_server: HubServer, store: MemoryStore
) -> None:
    """Deep's CLI body ``{"Tracepoint": ...}`` to ``/tracepoints/api/tracepoints`` is a create."""
    url = f"{http_server.http_url}/tracepoints/api/tracepoints"
    body = {"Tracepoint": {"path": "shop/ship.py", "line_number": 31, "args": {"fire_count": "-1"}}}
    answer = call("POST", url, body=body)
    assert answer.status == 200
    assert store.tracepoints[-1].path == "shop/ship.py"
    listed = poll_pb2.PollResponse.FromString(call("GET", url, headers=PROTOBUF).body)
    assert [tp.path for tp in listed.response][-1] == "shop/ship.py"


def test_a_list_naming_the_current_hash_is_no_change_with_its_tracepoints(
    api: str, store: MemoryStore
) -> None:
    """With ``hash`` current the answer is NO_CHANGE and still lists the tracepoints, as Deep's."""
    answer = call("GET", f"{api}/tracepoints?hash={store.hash}", headers=PROTOBUF)
    response = poll_pb2.PollResponse.FromString(answer.body)
    assert response.response_type == poll_pb2.NO_CHANGE
    assert response.current_hash == store.hash
    assert len(response.response) == 2
