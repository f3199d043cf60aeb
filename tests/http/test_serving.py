"""The HTTP API as part of HubServer: its settings, prefixes, TLS, lifecycle and counters."""

from __future__ import annotations

import errno
import os
import socket
import ssl
from pathlib import Path

import aiohttp
import grpc
import pytest

from confighub.exceptions import LifecycleError, ServeFailed
from confighub.files import dump_tracepoints
from confighub.server import FileStore, HubServer, MemoryStore
from tests.http.conftest import CART, call
from tests.support.tls import self_signed_pair


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_custom_prefix_serves_every_route_under_it(store: MemoryStore) -> None:
    """With ``http_prefix="/confighub"`` the API, Deep's base and the probes all move under it."""
    with HubServer(store, http_port=0, http_prefix="/confighub") as server:
        root = f"http://127.0.0.1:{server.http_port}"
        assert server.http_url == f"{root}/confighub"
        for path in ("/api/tracepoints/cart", "/tracepoints/api/tracepoints/cart"):
            assert call("GET", f"{root}/confighub{path}").json()["tracepoint"]["ID"] == "cart"
            assert call("GET", f"{root}{path}").status == 404
        assert call("GET", f"{root}/confighub/healthz").status == 200


@pytest.mark.parametrize("prefix", ["confighub", "/confighub/", "/", "//x", "/a{id}", "/a b"])
def test_a_prefix_that_is_not_a_path_is_refused(prefix: str) -> None:
    """A prefix must start with '/', not end with it, and hold plain segments: ValueError."""
    with pytest.raises(ValueError, match="http_prefix"):
        HubServer(MemoryStore(), http_port=0, http_prefix=prefix)


def test_bad_http_settings_are_refused_at_construction() -> None:
    """A port out of range or a body limit of 0 raise ValueError naming the setting."""
    with pytest.raises(ValueError, match="http_port"):
        HubServer(MemoryStore(), http_port=70000)
    with pytest.raises(ValueError, match="max_body_size"):
        HubServer(MemoryStore(), http_port=0, max_body_size=0)


def test_the_http_port_is_known_once_started_and_only_with_http(store: MemoryStore) -> None:
    """http_port and http_url raise LifecycleError before start() and on a server without HTTP."""
    server = HubServer(store, http_port=0)
    with pytest.raises(LifecycleError, match="start"):
        _ = server.http_port
    assert "http 127.0.0.1:0" in repr(server)
    with server:
        assert f"http 127.0.0.1:{server.http_port}" in repr(server)
    with HubServer(store) as plain:
        with pytest.raises(LifecycleError, match="http_port"):
            _ = plain.http_url
        assert "http" not in repr(plain)


def test_a_busy_http_port_fails_the_start_and_frees_the_grpc_port(store: MemoryStore) -> None:
    """An HTTP port in use is ServeFailed naming it; the gRPC port bound first is let go."""
    grpc_port = free_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        with pytest.raises(ServeFailed, match=os.strerror(errno.EADDRINUSE)) as caught:
            HubServer(store, port=grpc_port, http_port=taken).start()
    assert f"127.0.0.1:{taken}" in str(caught.value)
    assert "HTTP" in str(caught.value)
    with HubServer(store, port=grpc_port) as again:
        assert again.port == grpc_port


def test_tls_serves_https_with_the_grpc_certificate(tmp_path: Path, store: MemoryStore) -> None:
    """With tls_cert/tls_key the API is https on the same certificate; plain http gets nothing."""
    cert, key = self_signed_pair(tmp_path)
    trusting = ssl.create_default_context(cafile=str(cert))
    with HubServer(store, http_port=0, tls_cert=cert, tls_key=key) as server:
        assert server.http_url.startswith("https://127.0.0.1:")
        answer = call("GET", f"{server.http_url}/api/tracepoints/cart", ssl_context=trusting)
        assert answer.json()["tracepoint"]["ID"] == "cart"
        with pytest.raises(aiohttp.ClientError):
            call("GET", f"http://127.0.0.1:{server.http_port}/healthz")
        with grpc.secure_channel(
            server.target, grpc.ssl_channel_credentials(cert.read_bytes())
        ) as channel:
            grpc.channel_ready_future(channel).result(timeout=20)


def test_readiness_follows_the_store(tmp_path: Path) -> None:
    """/readyz is 503 with the reason while the file is bad, 200 again once it is good."""
    file = tmp_path / "tracepoints.yaml"
    file.write_text(dump_tracepoints([CART]), encoding="utf-8")
    with FileStore(file, watch=False) as store, HubServer(store, http_port=0) as server:
        url = f"{server.http_url}/readyz"
        assert call("GET", url).json() == {"ready": True}
        file.write_text("tracepoints:\n  - path: a.py\n    line: soon\n", encoding="utf-8")
        store.reload()
        answer = call("GET", url)
        assert answer.status == 503
        assert answer.json()["ready"] is False
        assert "line" in answer.json()["reason"]
        assert call("GET", f"{server.http_url}/healthz").status == 200
        file.write_text(dump_tracepoints([CART]), encoding="utf-8")
        store.reload()
        assert call("GET", url).status == 200


def test_an_unavailable_store_is_not_ready() -> None:
    """A store whose ``available`` is False makes /readyz 503."""
    store = MemoryStore()
    store.available = False  # type: ignore[attr-defined]
    with HubServer(store, http_port=0) as server:
        answer = call("GET", f"{server.http_url}/readyz")
    assert answer.status == 503
    assert answer.json() == {"ready": False, "reason": "the store is unavailable"}


def test_stats_count_http_requests(api: str, http_server: HubServer) -> None:
    """Every request answered counts, refusals included; the gRPC counters are apart."""
    call("GET", f"{api}/tracepoints")
    call("GET", f"{api}/nothing")
    call("GET", f"{api}/echo")
    stats = http_server.stats()
    assert stats.http_requests == 3
    assert stats.polls == 0
    assert (stats.store_errors, stats.auth_failures) == (0, 0)


def test_agents_and_metrics_answer_404_when_turned_off(store: MemoryStore) -> None:
    """With track_agents and metrics off, /api/agents and /metrics say there are none."""
    with HubServer(store, http_port=0, track_agents=False, metrics=False) as server:
        agents = call("GET", f"{server.http_url}/api/agents")
        metrics = call("GET", f"{server.http_url}/metrics")
    assert (agents.status, metrics.status) == (404, 404)
    assert "lists no agents" in agents.error
    assert "exposes no metrics" in metrics.error


def test_agents_and_metrics_are_on_by_default(api: str, http_server: HubServer) -> None:
    """The default server lists its (no) agents and exposes its metrics."""
    assert call("GET", f"{api}/agents").json() == {"agents": []}
    assert "confighub_polls_total" in call("GET", f"{http_server.http_url}/metrics").body.decode()
