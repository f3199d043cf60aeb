"""What a poll reports, read from the server's answer or its error.

``PollResult`` says what one poll did to the hub; ``RejectedTracePoint`` is a
tracepoint of an update that was left out. ``read_update`` turns an UPDATE into
the tracepoints to apply and those rejected; ``poll_failure`` turns a gRPC error
into a ``PollFailed`` with a hint. Everything here that came from the server
(ids, details) is shown cut: a hostile server must not flood the client's logs.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Final, NamedTuple

import grpc

from confighub._internal.text import cut
from confighub.exceptions import InvalidTracePoint, PollFailed
from confighub.model import TracePoint

__all__ = ["PollResult", "RejectedTracePoint", "poll_failure", "read_update"]

_HINTS: Final = {
    "UNAUTHENTICATED": "the server refused the credentials: check the token or basic credentials",
    "PERMISSION_DENIED": "the credentials may not poll this server",
    "UNIMPLEMENTED": "the target does not serve Deep's PollConfig",
    "DEADLINE_EXCEEDED": "no answer before the deadline",
}
# What grpc's details say when the two ends disagree on TLS, and what to do about it. The
# words are grpc's (BoringSSL's), so they are matched as substrings, case-insensitively.
_PLAINTEXT_HINTS: Final = (
    ("socket closed", "the server may expect TLS: connect with TLS"),
    ("connection reset", "the server may expect TLS: connect with TLS"),
)
_TLS_HINTS: Final = (
    ("wrong_version_number", "the server may not use TLS: connect without TLS"),
    (
        "certificate_verify_failed",
        "the server's certificate is not signed by the given root certificates",
    ),
)


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
    config_missing: bool = False
    """True for a NO_CHANGE to a poll that had no config yet: nothing was applied (the
    hub did not become VALID), and the next poll asks for the whole config again."""


def read_update(response: Any) -> tuple[tuple[TracePoint, ...], tuple[RejectedTracePoint, ...]]:
    """The valid tracepoints of an UPDATE response, and those left out (invalid or duplicated)."""
    # Every copy of a repeated id is left out, and the rest applies, as for an invalid
    # tracepoint: the server's answer cannot say which copy it meant, and refusing the whole
    # update would keep every other change away while each retry got the same answer.
    counts = Counter(message.ID for message in response.response)
    valid: list[TracePoint] = []
    rejected: list[RejectedTracePoint] = []
    for message in response.response:
        copies = counts[message.ID]
        try:
            if copies > 1:
                raise InvalidTracePoint(
                    message.ID,
                    "id",
                    message.ID,
                    f"{copies} tracepoints of the update have this id: every copy is left out",
                )
            valid.append(TracePoint.from_proto(message))
        except InvalidTracePoint as err:
            rejected.append(RejectedTracePoint(message.ID, response.current_hash, err))
    return tuple(valid), tuple(rejected)


def poll_failure(target: str, error: grpc.RpcError, *, tls: bool | None = None) -> PollFailed:
    """A ``PollFailed`` naming the gRPC status of ``error`` and what it likely means.

    ``tls`` says whether the channel used TLS (None: unknown, an injected channel),
    so that a mismatch of TLS between the two ends gets a hint of its own.
    """
    # Every error grpc raises for a call is also a grpc.Call; read it by duck typing
    # so that an injected stub's errors work too.
    code_of, details_of = getattr(error, "code", None), getattr(error, "details", None)
    code = code_of() if callable(code_of) else None
    name = getattr(code, "name", None)
    details = (details_of() if callable(details_of) else None) or str(error) or repr(error)
    details = str(details)
    hint = _HINTS.get(name or "") or _tls_hint(name, details, tls)
    # Cut before the hint goes on, so that a flood of details cannot push the hint out.
    reason = cut(details)
    failure = PollFailed(target, name, f"{reason} ({hint})" if hint else reason)
    failure.__cause__ = error
    return failure


def _tls_hint(code: str | None, details: str, tls: bool | None) -> str | None:
    if code != "UNAVAILABLE" or tls is None:
        return None
    lowered = details.lower()
    for words, hint in _TLS_HINTS if tls else _PLAINTEXT_HINTS:
        if words in lowered:
            return hint
    return None
