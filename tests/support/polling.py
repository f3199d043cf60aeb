"""Polling a ``HubServer`` over a real gRPC channel, as a client would."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from deepproto.proto.poll.v1 import poll_pb2

from confighub.server import HOLD_METADATA_KEY
from confighub.sources._poller import resource_proto


def resource(**attributes: str) -> Any:
    """Return a deep-proto ``Resource`` with string attributes, built as a client builds it."""
    return resource_proto(attributes)


def poll(
    stub: Any,
    current_hash: str = "",
    *,
    hold: str | None = None,
    attributes: Mapping[str, str] | None = None,
    metadata: Iterable[tuple[str, str]] = (),
    timeout: float | None = 30.0,
) -> Any:
    """Poll once; ``hold`` is sent as the ``confighub-hold`` metadata when given."""
    sent = list(metadata)
    if hold is not None:
        sent.append((HOLD_METADATA_KEY, hold))
    request = poll_pb2.PollRequest(
        ts_nanos=time.time_ns(),
        current_hash=current_hash,
        resource=resource(**(attributes or {})),
    )
    return stub.poll(request, metadata=sent, timeout=timeout)


def ids(response: Any) -> set[str]:
    """The ids of the tracepoints in a ``PollResponse``."""
    return {tp.ID for tp in response.response}
