"""What ``GrpcPollSource`` puts on and takes off the wire: metadata, resource, responses.

The long poll (``HOLD_METADATA_KEY``) is described in ``confighub._protocol``,
shared with ``confighub.server``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

import grpc
from deepproto.proto.common.v1 import common_pb2
from deepproto.proto.resource.v1 import resource_pb2

from confighub._protocol import HOLD_METADATA_KEY
from confighub.exceptions import InvalidTracePoint, PollFailed
from confighub.model import TracePoint

__all__ = [
    "HOLD_METADATA_KEY",
    "Metadata",
    "PollResult",
    "RejectedTracePoint",
    "auth_metadata",
    "open_channel",
    "poll_failure",
    "read_update",
    "resource_proto",
]


Metadata = tuple[tuple[str, str], ...]

_ATTRIBUTE_CASES: Final = ((bool, "bool_value"), (int, "int_value"), (float, "double_value"))
_HINTS: Final = {
    "UNAUTHENTICATED": "the server refused the credentials; check token= or basic=",
    "PERMISSION_DENIED": "the credentials may not poll this server",
    "UNIMPLEMENTED": "the target does not serve Deep's PollConfig",
    "DEADLINE_EXCEEDED": "no answer before the deadline",
}


class RejectedTracePoint(NamedTuple):
    """A tracepoint of an update that failed validation and was left out of the config."""

    tracepoint_id: str
    server_hash: str
    """The hash of the update it came in; the hub holds the other tracepoints under it."""
    error: InvalidTracePoint


class PollResult(NamedTuple):
    """What one poll did to the hub."""

    updated: bool
    """True for an UPDATE response, False for NO_CHANGE."""
    ts: int
    server_hash: str
    applied: int
    """How many tracepoints the update applied (0 for NO_CHANGE)."""
    rejected: tuple[RejectedTracePoint, ...] = ()


def auth_metadata(token: str | None, basic: str | None) -> Metadata:
    """The ``authorization`` metadata for a bearer ``token`` or ``basic`` ``"user:pass"``."""
    if token is not None and basic is not None:
        raise ValueError("give token= or basic=, not both: a request carries one authorization")
    if token is not None:
        if not token:
            raise ValueError("token= must not be empty")
        return (("authorization", f"Bearer {token}"),)
    if basic is not None:
        if ":" not in basic:
            raise ValueError("basic= must be 'user:password'")
        encoded = base64.b64encode(basic.encode()).decode("ascii")
        return (("authorization", f"Basic {encoded}"),)
    return ()


def resource_proto(attributes: Mapping[str, object] | None) -> Any:
    """Deep's ``Resource`` holding ``attributes`` (str, bool, int or float values)."""
    key_values = []
    for key, value in (attributes or {}).items():
        if not isinstance(key, str):
            raise TypeError(f"resource attribute names must be strings, got {key!r}")
        key_values.append(common_pb2.KeyValue(key=key, value=_attribute_value(key, value)))
    return resource_pb2.Resource(attributes=key_values)


def _attribute_value(key: str, value: object) -> Any:
    if isinstance(value, str):
        return common_pb2.AnyValue(string_value=str.__str__(value))
    # bool before int: True is an int too.
    for kind, case in _ATTRIBUTE_CASES:
        if isinstance(value, kind):
            return common_pb2.AnyValue(**{case: kind(value)})
    raise TypeError(
        f"resource attribute {key!r} = {value!r}: must be a str, bool, int or float,"
        f" not {type(value).__name__}"
    )


def open_channel(
    target: str, root_certificates: bytes | None, options: tuple[tuple[str, Any], ...]
) -> Any:
    """A TLS channel trusting ``root_certificates`` (PEM) if given, else a plaintext one."""
    if root_certificates is None:
        return grpc.insecure_channel(target, options=options)
    credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
    return grpc.secure_channel(target, credentials, options=options)


def poll_failure(target: str, error: grpc.RpcError) -> PollFailed:
    """A ``PollFailed`` naming the gRPC status of ``error`` and what it likely means."""
    # Every error grpc raises for a call is also a grpc.Call; read it by duck typing
    # so that an injected stub's errors work too.
    code_of, details_of = getattr(error, "code", None), getattr(error, "details", None)
    code = code_of() if callable(code_of) else None
    name = getattr(code, "name", None)
    details = (details_of() if callable(details_of) else None) or str(error) or repr(error)
    hint = _HINTS.get(name or "")
    failure = PollFailed(target, name, f"{details} ({hint})" if hint else details)
    failure.__cause__ = error
    return failure


def read_update(response: Any) -> tuple[tuple[TracePoint, ...], tuple[RejectedTracePoint, ...]]:
    """The valid tracepoints of an UPDATE response, and those that failed validation."""
    valid: list[TracePoint] = []
    rejected: list[RejectedTracePoint] = []
    for message in response.response:
        try:
            valid.append(TracePoint.from_proto(message))
        except InvalidTracePoint as err:
            rejected.append(RejectedTracePoint(message.ID, response.current_hash, err))
    return tuple(valid), tuple(rejected)
