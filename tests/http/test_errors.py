"""Every refusal of the HTTP API: its status, its JSON ``{"error": ...}``, and nothing changed."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from pathlib import Path

import pytest

from confighub.exceptions import StoreUnavailable
from confighub.files import dump_tracepoints
from confighub.server import FileStore, HubServer, MemoryStore
from tests.http.conftest import CART, CHECKOUT, call
from tests.support.stores import FailingStore, PlainStore
from tests.support.waiting import TIMEOUT

BODY = {"tracepoint": {"path": "shop/pay.py", "line_number": 30}}


def _deep_targeting(levels: int) -> bytes:
    value: dict[str, object] = {"stringValue": "x"}
    for _ in range(levels):
        value = {"kvlistValue": {"values": [{"key": "k", "value": value}]}}
    targeting = [{"key": "k", "value": value}]
    return json.dumps(
        {"tracepoint": {"path": "a.py", "line_number": 1, "targeting": targeting}}
    ).encode()


DEEP_TARGETING = _deep_targeting(40)
"""Valid JSON, but a targeting value nested 40 levels deep: past what a tracepoint may hold."""


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"tp": {}}', "unknown field 'tp'"),
        (b"{}", 'no "tracepoint"'),
        (b'{"tracepoint": {"path": "a.py", "line_number": 3, "colour": 1}}', "'colour'"),
        (b'{"tracepoint": {"path": "a.py", "lineNumber": "three"}}', "'lineNumber'"),
        (b'{"tracepoint": {"path": "", "line_number": 3}}', "'path'"),
        (b'{"tracepoint": 7}', "must be a JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deep"),
        (DEEP_TARGETING, "'targeting'"),
        (b'{"tracepoint": {"line_number": 1' + b"0" * 5000 + b"}}", "not JSON"),
        (b"\xff\xfe{", "not JSON"),
    ],
)
def test_a_bad_body_is_a_400_naming_what_is_wrong(
    api: str, store: MemoryStore, data: bytes, said: str
) -> None:
    """Malformed JSON, a wrong shape, unknown or mistyped fields, deep nesting: 400 saying so."""
    answer = call(
        "POST", f"{api}/tracepoints", data=data, headers={"Content-Type": "application/json"}
    )
    assert answer.status == 400
    assert said in answer.error
    assert store.tracepoints == (CHECKOUT, CART)


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("a=1&a=2", "given twice"),
        ("ts=soon", "'ts' must be nanoseconds"),
        ("hash=x&hash=y", "given twice"),
        ("k=" + "v" * 2000, "limit of 1024 bytes"),
        ("&".join(f"k{i}=v" for i in range(200)), "limit of 128"),
    ],
)
def test_a_bad_list_query_is_a_400(api: str, query: str, said: str) -> None:
    """A repeated key, a ts that is no number, or too many or too big attributes: 400."""
    answer = call("GET", f"{api}/tracepoints?{query}")
    assert answer.status == 400
    assert said in answer.error


def test_a_put_whose_body_names_another_id_is_a_400(api: str, store: MemoryStore) -> None:
    """The body's ID must be the URL's: 400 naming both, and nothing written."""
    body = {"tracepoint": {"ID": "other", "path": "shop/cart.py", "line_number": 1}}
    answer = call("PUT", f"{api}/tracepoints/cart", body=body)
    assert answer.status == 400
    assert "'other'" in answer.error
    assert "'cart'" in answer.error
    assert store.tracepoints == (CHECKOUT, CART)


def test_unknown_ids_and_routes_are_404s(api: str, http_server: HubServer) -> None:
    """A read or delete of an unknown id, and a path no route serves, are JSON 404s."""
    for method in ("GET", "DELETE"):
        answer = call(method, f"{api}/tracepoints/nope")
        assert answer.status == 404
        assert "'nope'" in answer.error
    for path in ("/api/nothing", "/elsewhere", "/api/tracepoints/"):
        answer = call("GET", f"{http_server.http_url}{path}")
        assert answer.status == 404
        assert "no route" in answer.error


def test_a_wrong_method_is_a_405_with_allow(api: str) -> None:
    """A method a known route does not take is 405, with the methods it does take in Allow."""
    answer = call("DELETE", f"{api}/tracepoints")
    assert answer.status == 405
    assert set(answer.headers["Allow"].split(",")) == {"GET", "HEAD", "POST", "PUT"}
    assert "DELETE is not allowed" in answer.error
    assert call("POST", f"{api}/tracepoints/cart", body=BODY).status == 405


def test_creating_an_existing_id_is_a_409(api: str, store: MemoryStore) -> None:
    """POST naming an id in use is 409 and leaves the tracepoint as it was."""
    body = {"tracepoint": {"ID": "cart", "path": "shop/other.py", "line_number": 1}}
    answer = call("POST", f"{api}/tracepoints", body=body)
    assert answer.status == 409
    assert "exists already" in answer.error
    assert store.tracepoints == (CHECKOUT, CART)


def test_a_file_store_refuses_writes_naming_its_file(tmp_path: Path) -> None:
    """A FileStore's write is 409 naming the file to edit; the file is untouched."""
    file = tmp_path / "tracepoints.yaml"
    file.write_text(dump_tracepoints([CART]), encoding="utf-8")
    before = file.read_bytes()
    with FileStore(file, watch=False) as store, HubServer(store, http_port=0) as server:
        for method, path in (("POST", ""), ("PUT", "/cart"), ("DELETE", "/cart")):
            body = BODY if method != "DELETE" else None
            answer = call(method, f"{server.http_url}/api/tracepoints{path}", body=body)
            assert answer.status == 409
            assert str(file) in answer.error
    assert file.read_bytes() == before


def test_a_store_that_takes_no_writes_is_a_409(store: MemoryStore) -> None:
    """A store without writes (a plain Store) answers writes 409, and still serves reads."""
    with HubServer(PlainStore(store), http_port=0) as server:
        url = f"{server.http_url}/api/tracepoints"
        answer = call("POST", url, body=BODY)
        assert answer.status == 409
        assert "this store takes no writes" in answer.error
        assert call("GET", f"{url}/cart").status == 200


def test_an_unavailable_store_is_a_503_counted(http_server: HubServer) -> None:
    """A store that cannot write now answers 503 with its reason, counted in store_errors."""

    def failure() -> Exception:
        return StoreUnavailable("the test store", "the disk is full")

    with HubServer(FailingStore([CART], failure), http_port=0) as server:
        answer = call("DELETE", f"{server.http_url}/api/tracepoints/cart")
        assert answer.status == 503
        assert answer.error == "the test store is unavailable: the disk is full"
        assert server.stats().store_errors == 1
        assert server.store.state.tracepoints == (CART,)


def test_an_unexpected_error_is_a_500_that_tells_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """A store raising something unexpected: a generic 500, the traceback logged, not sent."""

    def failure() -> Exception:
        return RuntimeError("the secret internals")

    with (
        caplog.at_level(logging.ERROR, logger="confighub"),
        HubServer(FailingStore([CART], failure), http_port=0) as server,
    ):
        url = f"{server.http_url}/api/tracepoints"
        answer = call("POST", url, body=BODY)
        assert answer.status == 500
        assert "secret" not in answer.error
        assert "the server logged" in answer.error
        assert call("GET", url).status == 200  # and it keeps serving
    logged = [record for record in caplog.records if record.exc_info]
    assert len(logged) == 1
    assert "the secret internals" in str(logged[0].exc_info[1])  # type: ignore[index]


def test_a_body_over_the_limit_is_a_413(store: MemoryStore) -> None:
    """A body past max_body_size is 413, declared or chunked, and nothing is written."""
    with HubServer(store, http_port=0, max_body_size=1000) as server:
        url = f"{server.http_url}/api/tracepoints"
        padded = {"tracepoint": {**BODY["tracepoint"], "watches": ["x" * 2000]}}
        answer = call("POST", url, body=padded)
        assert answer.status == 413
        assert "max_body_size" in answer.error
        assert call("POST", url, body=BODY).status == 200
    assert len(store.tracepoints) == 3


def test_a_huge_declared_body_is_refused_before_it_is_sent(http_server: HubServer) -> None:
    """A Content-Length of 10 GB is answered 413 at once: the server does not wait for it."""

    async def declare() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", http_server.http_port)
        writer.write(
            b"POST /api/tracepoints HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10000000000\r\n\r\n{"
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        writer.close()
        await writer.wait_closed()
        return head

    head = asyncio.run(declare())
    assert head.startswith(b"HTTP/1.1 413")


def test_a_write_that_is_not_json_is_a_415(api: str, store: MemoryStore) -> None:
    """A write's body must say it is JSON: anything else is 415, with or without a type."""
    for headers in ({"Content-Type": "text/plain"}, {}):
        answer = call("POST", f"{api}/tracepoints", data=b"{}", headers=headers)
        assert answer.status == 415
        assert "application/json" in answer.error
    assert store.tracepoints == (CHECKOUT, CART)


def test_a_json_suffix_type_and_a_charset_are_json(api: str) -> None:
    """``application/json; charset=utf-8`` and ``application/merge+json`` both count as JSON."""
    for kind in ("application/json; charset=utf-8", "application/x.confighub+json"):
        data = b'{"tracepoint": {"path": "a.py", "line_number": 1}}'
        assert (
            call("POST", f"{api}/tracepoints", data=data, headers={"Content-Type": kind}).status
            == 200
        )


def test_an_invalid_tracepoint_from_the_model_names_its_field(api: str) -> None:
    """The model's own rules (a fire_count of "many") come back as 400 naming the field."""
    body = {"tracepoint": {"path": "a.py", "line_number": 1, "args": {"fire_count": "many"}}}
    answer = call("POST", f"{api}/tracepoints", body=body)
    assert answer.status == 400
    assert "'args.fire_count' = 'many'" in answer.error


def test_a_tracepoint_id_that_is_not_utf8_is_a_400(api: str) -> None:
    """An id whose percent-decoding is not UTF-8 is refused as that."""
    answer = call("GET", f"{api}/tracepoints/%ff%fe")
    assert answer.status == 400
    assert "UTF-8" in answer.error


def test_a_request_past_the_header_limits_is_refused_and_logged_without_its_words(
    caplog: pytest.LogCaptureFixture, store: MemoryStore
) -> None:
    """An 8 KiB-plus Authorization header is a 400 from the protocol, and no log line quotes it."""
    with (
        caplog.at_level(logging.DEBUG),
        HubServer(store, http_port=0, token="t0ken") as server,
    ):
        url = f"{server.http_url}/api/tracepoints"
        answer = call("GET", url, headers={"Authorization": "Bearer " + "SECRET" * 2000})
        assert answer.status == 400
        assert "SECRET" not in answer.body.decode()
        assert answer.error.endswith("a line or a header of it is too long")
        headers = {"Authorization": "Bearer t0ken"}
        assert call("GET", url, headers=headers).status == 200
    logged = "\n".join(
        f"{record.getMessage()} {record.exc_text or ''}" for record in caplog.records
    )
    assert "SECRET" not in logged
    assert "a malformed HTTP request (400)" in logged


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /api/tracepoints HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer SECRET\x01\r\n\r\n",
        b"GET /api/trace\x00SECRET HTTP/1.1\r\nHost: x\r\n\r\n",
        b"SECRET /api/tracepoints\r\n\r\n",
    ],
)
def test_a_request_aiohttp_cannot_parse_is_answered_in_json_quoting_none_of_it(
    raw: bytes, store: MemoryStore
) -> None:
    """A bad header character, a NUL in the path, a broken request line: JSON 400, no echo."""
    with (
        HubServer(store, http_port=0, token="t0ken") as server,
        socket.create_connection(("127.0.0.1", server.http_port), timeout=TIMEOUT) as peer,
    ):
        peer.sendall(raw)
        answer = b""
        while chunk := peer.recv(4096):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0].split(b" ")[1] == b"400"
    assert b"SECRET" not in answer
    assert json.loads(body)["error"].startswith("a malformed HTTP request")
