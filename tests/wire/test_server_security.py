"""``HubServer`` security: bearer and basic authentication, and TLS with a self-signed cert."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from deepproto.proto.poll.v1 import poll_pb2, poll_pb2_grpc
from deepproto.proto.tracepoint.v1 import tracepoint_pb2, tracepoint_pb2_grpc

from confighub import TracePoint
from confighub.server import HubServer, MemoryStore
from confighub.server._auth import Authenticator
from tests.support.polling import poll
from tests.support.tls import self_signed_pair

STORE_CONFIG = [TracePoint("cart", "shop/cart.py", 12)]
BASIC = "Basic " + base64.b64encode(b"agent:s3cret").decode("ascii")


@pytest.fixture
def guarded() -> Iterator[tuple[HubServer, Any]]:
    """A server that takes the bearer token ``t0ken`` or the basic ``agent:s3cret``."""
    with (
        HubServer(MemoryStore(STORE_CONFIG), token="t0ken", basic="agent:s3cret") as server,
        grpc.insecure_channel(server.target) as channel,
    ):
        yield server, channel


@pytest.mark.parametrize(
    ("metadata", "details"),
    [
        ((), "missing 'authorization' metadata"),
        ((("authorization", "Bearer wrong"),), "invalid bearer token"),
        ((("authorization", "Basic " + base64.b64encode(b"agent:no").decode()),), "invalid basic"),
        ((("authorization", "Digest abc"),), "unsupported authorization scheme 'Digest'"),
    ],
    ids=["missing", "wrong token", "wrong password", "other scheme"],
)
def test_wrong_or_missing_credentials_are_unauthenticated(
    guarded: tuple[HubServer, Any], metadata: tuple[tuple[str, str], ...], details: str
) -> None:
    """A poll without the right credentials ends UNAUTHENTICATED, saying what was expected."""
    server, channel = guarded
    with pytest.raises(grpc.RpcError) as caught:
        poll(poll_pb2_grpc.PollConfigStub(channel), metadata=metadata)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert details in caught.value.details()
    assert "t0ken" not in caught.value.details()
    assert server.stats().polls == 0


@pytest.mark.parametrize(
    "header",
    ["Bearer t0ken", "bearer t0ken", BASIC, BASIC.replace(" ", "%20")],
    ids=["bearer", "lower-case scheme", "basic", "basic as the Deep agent sends it"],
)
def test_right_credentials_are_served(guarded: tuple[HubServer, Any], header: str) -> None:
    """The right token or basic credentials get the config (Deep's ``Basic%20`` form too)."""
    _, channel = guarded
    answer = poll(poll_pb2_grpc.PollConfigStub(channel), metadata=[("authorization", header)])
    assert answer.response_type == poll_pb2.UPDATE


def test_snapshots_need_credentials_too(guarded: tuple[HubServer, Any]) -> None:
    """SnapshotService.send is guarded like poll."""
    server, channel = guarded
    stub = tracepoint_pb2_grpc.SnapshotServiceStub(channel)
    with pytest.raises(grpc.RpcError) as caught:
        stub.send(tracepoint_pb2.Snapshot(), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    stub.send(tracepoint_pb2.Snapshot(), metadata=[("authorization", "Bearer t0ken")], timeout=10)
    assert server.stats().snapshots == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"token": ""}, "token must not be empty"),
        ({"basic": "agent"}, "user:password"),
        ({}, "needs a token"),
    ],
)
def test_bad_credentials_options_are_refused(options: dict[str, str], message: str) -> None:
    """An empty token or a basic value without ':' raises ValueError saying what is expected."""
    with pytest.raises(ValueError, match=message):
        Authenticator(**options)


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 and localhost, and its key."""
    return self_signed_pair(tmp_path_factory.mktemp("tls"))


def test_tls_serves_a_client_that_trusts_the_certificate(self_signed: tuple[Path, Path]) -> None:
    """Over TLS (cert as a path, key as bytes) a trusting client is served; plaintext is not."""
    cert, key = self_signed
    credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
    with HubServer(MemoryStore(STORE_CONFIG), tls_cert=cert, tls_key=key.read_bytes()) as server:
        with grpc.secure_channel(server.target, credentials) as channel:
            answer = poll(poll_pb2_grpc.PollConfigStub(channel))
        assert answer.response_type == poll_pb2.UPDATE
        with (
            grpc.insecure_channel(server.target) as channel,
            pytest.raises(grpc.RpcError) as caught,
        ):
            poll(poll_pb2_grpc.PollConfigStub(channel), timeout=10)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


def test_tls_material_that_is_not_pem_is_refused(self_signed: tuple[Path, Path]) -> None:
    """PEM text passed as str, or a file that holds no PEM, is refused saying what to pass."""
    cert, key = self_signed
    store = MemoryStore()
    with pytest.raises(TypeError, match="pass PEM contents as bytes"):
        HubServer(store, tls_cert=cert.read_text(), tls_key=key)
    with pytest.raises(ValueError, match="tls_key is not PEM"):
        HubServer(store, tls_cert=cert, tls_key=b"not a key")
