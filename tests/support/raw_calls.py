"""Calling a PollConfig or SnapshotService server with bodies sent as they are, hostile or not."""

from __future__ import annotations

from typing import Any, Final

import grpc
from deepproto.proto.common.v1 import common_pb2
from deepproto.proto.poll.v1 import poll_pb2

from tests.support.polling import resource

POLL: Final = "/deepproto.proto.poll.v1.PollConfig/poll"
SEND: Final = "/deepproto.proto.tracepoint.v1.SnapshotService/send"


def raw(channel: grpc.Channel, method: str = POLL) -> Any:
    """A call of ``method`` that sends its bytes as they are and returns the answer's bytes."""
    return channel.unary_unary(method)


def status(call: Any, body: bytes, metadata: Any = ()) -> tuple[grpc.StatusCode, str]:
    """The status code and details ``call`` ends with for ``body``."""
    try:
        call(body, metadata=metadata, timeout=10)
    except grpc.RpcError as err:
        return err.code(), err.details() or ""
    return grpc.StatusCode.OK, ""


def request_bytes(**attributes: str) -> bytes:
    """A serialized poll of a client with these string attributes."""
    request = poll_pb2.PollRequest(resource=resource(**attributes))
    body: bytes = request.SerializeToString()
    return body


def attribute(key: str, value: str) -> Any:
    """One resource attribute with a string value."""
    return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(string_value=value))
