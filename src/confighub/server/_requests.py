"""Reading a request body: its size checked before it is parsed, its resource after.

The server parses requests itself, on its one event loop, after the credentials
are checked, so that what a request costs is bounded before any of it is
decoded: first the size of the body (a 4 MB poll of 265,000 attributes took a
second of the loop's time), then the number of resource attributes and the size
of each key and value, which targeting decodes and matches on every poll. A body
that is not the expected protobuf is the client's error, not the server's: it is
refused with a ``BadRequest``, which the server answers ``INVALID_ARGUMENT``.
"""

from __future__ import annotations

from typing import Any, Final

from deepproto.proto.poll.v1 import poll_pb2
from deepproto.proto.tracepoint.v1 import tracepoint_pb2
from google.protobuf.message import DecodeError

from confighub._internal.text import shown

__all__ = [
    "DEFAULT_MAX_POLL_SIZE",
    "MAX_ATTRIBUTES",
    "MAX_ATTRIBUTE_SIZE",
    "BadRequest",
    "parse_poll",
    "parse_snapshot",
]

DEFAULT_MAX_POLL_SIZE: Final = 64 * 1024
"""Bytes of a poll request at most: a Deep agent's poll is a few hundred."""

MAX_ATTRIBUTES: Final = 128
"""Resource attributes of a poll at most."""

MAX_ATTRIBUTE_SIZE: Final = 1024
"""Bytes of a resource attribute's key, and of its encoded value, at most."""

_SHOWN_KEY: Final = 60


class BadRequest(ValueError):
    """A request body the server refuses; the message says why in bounded words."""


def parse_poll(body: bytes, max_size: int) -> Any:
    """The ``PollRequest`` in ``body``; ``BadRequest`` if it is too big, malformed or too wide."""
    if len(body) > max_size:
        raise BadRequest(
            f"the poll request is {len(body)} bytes, over the server's limit"
            f" (max_poll_size) of {max_size} bytes"
        )
    request = _parse(poll_pb2.PollRequest, body)
    attributes = request.resource.attributes
    if len(attributes) > MAX_ATTRIBUTES:
        raise BadRequest(
            f"the poll request has {len(attributes)} resource attributes, over the server's"
            f" limit of {MAX_ATTRIBUTES}"
        )
    if len(body) <= MAX_ATTRIBUTE_SIZE:
        return request  # no key or value in it can be larger than the whole body
    for attribute in attributes:
        key = attribute.key
        key_size = len(key.encode("utf-8"))
        if key_size > MAX_ATTRIBUTE_SIZE:
            raise BadRequest(
                f"resource attribute key {shown(key, _SHOWN_KEY)} is {key_size} bytes, over the"
                f" server's limit of {MAX_ATTRIBUTE_SIZE} bytes per key"
            )
        value_size = attribute.value.ByteSize()
        if value_size > MAX_ATTRIBUTE_SIZE:
            raise BadRequest(
                f"resource attribute {shown(key, _SHOWN_KEY)} has a value of {value_size} bytes,"
                f" over the server's limit of {MAX_ATTRIBUTE_SIZE} bytes per value"
            )
    return request


def parse_snapshot(body: bytes) -> Any:
    """The ``Snapshot`` in ``body``; ``BadRequest`` if it is malformed."""
    return _parse(tracepoint_pb2.Snapshot, body)


def _parse(message_type: Any, body: bytes) -> Any:
    try:
        return message_type.FromString(body)
    except DecodeError:
        # The decoder's own words add nothing a client can act on.
        name = message_type.DESCRIPTOR.full_name
        raise BadRequest(f"the request body is not a {name} message") from None
