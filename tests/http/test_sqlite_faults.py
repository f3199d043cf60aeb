"""A server on a real SQLite file the disk refuses to write: 503, nothing applied, polls go on."""

from __future__ import annotations

from pathlib import Path

import grpc
from deepproto.proto.poll.v1 import poll_pb2, poll_pb2_grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from confighub import TracePoint
from confighub.server import HubServer, MemoryStore
from confighub.stores import SqliteStore
from tests.http.conftest import call
from tests.stores.test_sqlite_durability import chattr

CART = TracePoint("cart", "shop/cart.py", 17)
BODY = {"tracepoint": {"path": "shop/pay.py", "lineNumber": 7}}


def test_a_write_the_disk_refuses_is_503_and_the_server_serves_on(tmp_path: Path) -> None:
    """An immutable database file: POST is 503 naming the file, GET and gRPC polls still work."""
    path = tmp_path / "hub.db"
    files = [path, path.with_name("hub.db-wal")]
    with SqliteStore(path) as store, HubServer(store, http_port=0) as server:
        store.create(CART)
        url = f"{server.http_url}/api/tracepoints"
        assert chattr("+i", files), "chattr +i failed: needs root and an ext4-like file system"
        try:
            refused = call("POST", url, body=BODY)
            assert refused.status == 503
            assert str(path) in refused.error
            assert "nothing of it was applied" in refused.error
            listed = call("GET", url).json()
            assert [tp["ID"] for tp in listed["response"]] == ["cart"]
            with grpc.insecure_channel(server.target) as channel:
                answer = poll_pb2_grpc.PollConfigStub(channel).poll(
                    poll_pb2.PollRequest(), timeout=10
                )
            assert [tp.ID for tp in answer.response] == ["cart"]
            assert server.stats().store_errors == 1
            metrics = call("GET", f"{server.http_url}/metrics").body.decode()
            assert "confighub_store_errors_total 1.0" in metrics
        finally:
            assert chattr("-i", files)
        assert call("POST", url, body=BODY).status == 200
        assert len(store.tracepoints) == 2


def test_the_grpc_health_service_says_serving_while_the_server_serves() -> None:
    """grpc.health.v1.Health on the server's own port: SERVING for the server and PollConfig."""
    with (
        HubServer(MemoryStore([CART]), token="s3cret") as server,
        grpc.insecure_channel(server.target) as channel,
    ):
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", "deepproto.proto.poll.v1.PollConfig"):
            answer = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
