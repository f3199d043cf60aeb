"""GrpcPollSource's options on the wire: auth, resource, TLS, one-shot polls, bad settings."""

from __future__ import annotations

import base64
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
