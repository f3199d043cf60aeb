"""GrpcPollSource's options on the wire: auth, resource, TLS, one-shot polls, bad settings."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

import confighub.sources
from confighub import ConfigHub, SourceState, TracePoint
from confighub.exceptions import PollFailed
from confighub.sources import GrpcPollSource
from tests.support.poll_server import PollServer, PollServicer
from tests.support.tls import self_signed_pair

CART = TracePoint("tp-cart", "shop/cart.py", 12)


def test_sources_exports_are_importable() -> None:
    """Every name in confighub.sources.__all__ exists (ruff's RUF022 keeps the list sorted)."""
    for name in confighub.sources.__all__:
        assert getattr(confighub.sources, name) is not None
    assert {"FileSource", "GrpcPollSource", "HOLD_METADATA_KEY"} <= set(confighub.sources.__all__)


def test_resource_attributes_reach_the_server(server: PollServer, hub: ConfigHub) -> None:
    """str, int, bool and float attributes arrive as the matching AnyValue cases."""
    resource = {"service.name": "shop", "replicas": 3, "canary": True, "ratio": 0.5}
    source = GrpcPollSource(server.target, hub, resource=resource)
    source.poll_once()
    source.stop()
    [polled] = server.servicer.polls
    received = {
        kv.key: getattr(kv.value, kv.value.WhichOneof("value")) for kv in polled.resource.attributes
    }
    assert received == resource
    assert type(received["canary"]) is bool


@pytest.mark.parametrize(
    ("credentials", "header"),
    [
        ({"token": "s3cret"}, "Bearer s3cret"),
        ({"basic": "ann:pa:ss"}, "Basic " + base64.b64encode(b"ann:pa:ss").decode()),
    ],
)
def test_auth_metadata_reaches_the_server(
    server: PollServer, hub: ConfigHub, credentials: dict[str, str], header: str
) -> None:
    """token= sends a Bearer authorization, basic= a Basic one, and the server accepts it."""
    server.servicer.required_auth = header
    source = GrpcPollSource(server.target, hub, **credentials)  # type: ignore[arg-type]
    result = source.poll_once()
    source.stop()
    assert result.updated
    assert server.servicer.polls[0].metadata["authorization"] == header


def test_poll_once_reports_each_response(server: PollServer, hub: ConfigHub) -> None:
    """poll_once applies an UPDATE, then a NO_CHANGE, and says which it was."""
    served = server.servicer.serve(CART)
    source = GrpcPollSource(server.target, hub)
    first, second = source.poll_once(), source.poll_once()
    source.stop()
    assert (first.updated, first.server_hash, first.applied) == (True, served, 1)
    assert (second.updated, second.server_hash) == (False, served)
    assert hub.last_update == second.ts


def test_poll_once_raises_when_nothing_listens(server: PollServer, hub: ConfigHub) -> None:
    """A refused connection raises PollFailed with UNAVAILABLE and the target in the message."""
    server.stop()
    source = GrpcPollSource(server.target, hub)
    with pytest.raises(PollFailed) as caught:
        source.poll_once()
    source.stop()
    assert caught.value.code == "UNAVAILABLE"
    assert server.target in str(caught.value)
    assert hub.current_status.state is SourceState.OFF


def test_tls_with_root_certificates(tmp_path: Path, hub: ConfigHub) -> None:
    """root_certificates= makes a TLS channel that trusts the server's certificate."""
    cert, key = self_signed_pair(tmp_path)
    credentials = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
    server = PollServer(PollServicer(), credentials).start()
    try:
        served = server.servicer.serve(CART)
        source = GrpcPollSource(
            f"localhost:{server.port}", hub, root_certificates=cert.read_bytes()
        )
        assert source.poll_once().server_hash == served
        source.stop()
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"token": "t", "basic": "a:b"}, "not both"),
        ({"basic": "no-colon"}, "user:password"),
        ({"hold": 0}, "must be > 0"),
        ({"interval": -1}, "must be > 0"),
        ({"backoff_initial": 5, "backoff_max": 1}, "initial <= maximum"),
    ],
)
def test_bad_arguments_are_refused(hub: ConfigHub, kwargs: dict[str, Any], message: str) -> None:
    """Contradictory or out-of-range settings raise ValueError saying what is wrong."""
    with pytest.raises(ValueError, match=message):
        GrpcPollSource("127.0.0.1:1", hub, **kwargs)


def test_a_resource_value_of_another_type_is_refused(hub: ConfigHub) -> None:
    """A resource attribute that is not a scalar raises TypeError naming the attribute."""
    with pytest.raises(TypeError, match="'tags'"):
        GrpcPollSource("127.0.0.1:1", hub, resource={"tags": ["a"]})


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[PollServer, bytes]]:
    """A PollServer over TLS with a self-signed certificate, and that certificate."""
    cert, key = self_signed_pair(tmp_path)
    credentials = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
    running = PollServer(PollServicer(), credentials).start()
    yield running, cert.read_bytes()
    running.stop()


@pytest.mark.parametrize(
    ("client_tls", "hint"),
    [
        (False, "(the server may expect TLS: connect with TLS)"),
        (True, "(the server may not use TLS: connect without TLS)"),
    ],
)
def test_a_tls_mismatch_gives_socket_closed_without_a_hint(
    hub: ConfigHub,
    server: PollServer,
    tls_server: tuple[PollServer, bytes],
    client_tls: bool,
    hint: str,
) -> None:
    """One end with TLS and the other without: the failure says which way to look."""
    secure, cert = tls_server
    target = f"localhost:{(server if client_tls else secure).port}"
    source = GrpcPollSource(target, hub, root_certificates=cert if client_tls else None)
    with pytest.raises(PollFailed) as caught:
        source.poll_once()
    source.stop()
    assert caught.value.code == "UNAVAILABLE"
    assert caught.value.reason.endswith(hint)
    assert "root_certificates" not in str(caught.value)


def test_the_credentials_hint_names_library_arguments(server: PollServer, hub: ConfigHub) -> None:
    """A refusal hints at the credentials in words the CLI can show too, not as token=."""
    server.servicer.required_auth = "Bearer right"
    source = GrpcPollSource(server.target, hub, token="wrong")
    with pytest.raises(PollFailed) as caught:
        source.poll_once()
    source.stop()
    assert caught.value.fatal
    assert caught.value.reason == (
        "bad credentials (the server refused the credentials: check the token or basic credentials)"
    )


def test_a_bad_target_goes_silently_elsewhere(hub: ConfigHub) -> None:
    """A target gRPC would dial other than meant (443, a URL) is refused with what to give.

    host:port, [v6]:port and the targets of gRPC's own schemes are taken as they are.
    """
    refused = [
        ("", "target is empty: give HOST:PORT"),
        ("  ", "target is empty"),
        ("http://deep:43315", "is a URL: give HOST:PORT"),
        ("https://deep", "(for https, connect with TLS)"),
        ("grpc://deep:43315", "is a URL"),
        ("foo://deep:1", "has a scheme gRPC does not resolve"),
        ("deep", "'deep' has no port: give HOST:PORT (without one, gRPC would use 443)"),
        ("deep:", "has no port"),
        ("[::1]", "has no port"),
        ("[::1]x", "give [ADDRESS]:PORT"),
        ("[::1:50051", "without ']'"),
        ("::1:50051", "an IPv6 address needs brackets"),
        (":50051", "has no host"),
        ("deep:0", "port '0' is not in 1-65535"),
        ("deep:65536", "port '65536' is not in 1-65535"),
        ("deep:http", "port 'http' is not a number"),
        ("deep:\u00b2", "is not a number"),
        ("deep :1", "holds whitespace"),
    ]
    for target, message in refused:
        with pytest.raises(ValueError, match=re.escape(message)):
            GrpcPollSource(target, hub)
    taken = [
        "127.0.0.1:1",
        "localhost:65535",
        "[::1]:50051",
        "dns:///localhost:1",
        "dns:localhost:1",
        "ipv4:127.0.0.1:1",
        "ipv6:[::1]:1",
        "unix:/tmp/confighub.sock",
        "unix-abstract:confighub",
    ]
    for target in taken:
        GrpcPollSource(target, hub).stop()
