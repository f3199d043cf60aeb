"""What a poll reports, read from the server's answer or its error.

``PollResult`` says what one poll did to the hub; ``RejectedTracePoint`` is a
tracepoint of an update that was left out. ``UpdateReader`` turns an UPDATE into
the tracepoints to apply and those rejected, reusing those unchanged since the
last; ``poll_failure`` turns a gRPC error into a ``PollFailed`` with a hint.
Everything here that came from the server (ids, details) is shown cut: a hostile
server must not flood the client's logs.
"""

from __future__ import annotations

from collections import Counter
from operator import attrgetter
from typing import Any, Final, NamedTuple, cast

import grpc
from deepproto.proto.tracepoint.v1 import tracepoint_pb2

from confighub._internal.text import cut
from confighub.exceptions import InvalidTracePoint, PollFailed
from confighub.model import TracePoint

__all__ = ["PollResult", "RejectedTracePoint", "UpdateReader", "poll_failure"]

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
    """True for a NO_CHANGE naming a config hash to a poll that had no config yet: nothing
    was applied (the hub did not become VALID), and the next poll asks for the whole
    config again. (A NO_CHANGE without a hash says the empty config is current.)"""


class UpdateReader:
    """Reads UPDATEs into the tracepoints to apply and those left out (invalid or duplicated).

    A tracepoint whose message is the same, byte for byte, as in the last UPDATE read
    is the same ``TracePoint`` object as then, not one built and validated afresh:
    equal bytes parse to an equal message, which builds an equal tracepoint. So the
    configs a hub receives share their unchanged items, as its own edits do, and
    whatever compares them (diffs, hashes, tapes) finds them equal by identity. Only
    the last UPDATE's tracepoints are kept: a removed one is built again if it comes
    back. Safe from any thread: a race between two reads costs only rebuilds.
    """

    def __init__(self) -> None:
        self._built: dict[bytes, TracePoint] = {}

    def read(self, response: Any) -> tuple[tuple[TracePoint, ...], tuple[RejectedTracePoint, ...]]:
        """The valid tracepoints of an UPDATE response, and those left out, in its order."""
        messages, keys, known = _known(response.response, self._built)
        failed: dict[int, InvalidTracePoint] = {}
        for index in [index for index, tp in enumerate(known) if tp is None]:
            try:
                known[index] = TracePoint.from_proto(messages[index])
            except InvalidTracePoint as err:
                failed[index] = err
        # Without failures, the ids are read off the tracepoints, and listed only if one repeats.
        if failed or len(set(map(_ID, cast(list[TracePoint], known)))) < len(known):
            ids = [messages[n].ID if tp is None else tp.id for n, tp in enumerate(known)]
            failed = _repeated(ids, failed)
        if failed:
            kept = [n for n in range(len(known)) if n not in failed]
            valid = tuple(cast(TracePoint, known[n]) for n in kept)
            self._built = {keys[n]: tp for n, tp in zip(kept, valid, strict=True)}
        else:
            valid = tuple(cast(list[TracePoint], known))
            self._built = dict(zip(keys, valid, strict=True))
        current_hash = response.current_hash
        rejected = tuple(
            RejectedTracePoint(messages[n].ID, current_hash, failed[n]) for n in sorted(failed)
        )
        return valid, rejected


def _repeated(ids: list[str], failed: dict[int, InvalidTracePoint]) -> dict[int, InvalidTracePoint]:
    """``failed`` with every copy of a repeated id left out too, for that reason first."""
    # Every copy of a repeated id is left out, and the rest applies, as for an invalid
    # tracepoint: the server's answer cannot say which copy it meant, and refusing the
    # whole update would keep every other change away while each retry got the same answer.
    counts = Counter(ids)
    failed = dict(failed)
    for index, tp_id in enumerate(ids):
        copies = counts[tp_id]
        if copies > 1:
            failed[index] = InvalidTracePoint(
                tp_id,
                "id",
                tp_id,
                f"{copies} tracepoints of the update have this id: every copy is left out",
            )
    return failed


def _known(
    repeated: Any, built: dict[bytes, TracePoint]
) -> tuple[list[Any], list[bytes], list[TracePoint | None]]:
    """The messages, each one's serialized bytes, and the tracepoint ``built`` holds (or None)."""
    # The speed trick of the client: map() over the C methods, on the messages taken out
    # of the repeated field once (each pass over the field wraps every message anew),
    # serializes and looks up 10,000 messages in about 3 ms, where building and
    # validating them all afresh costs some 80 ms.
    messages = list(repeated)
    keys = list(map(_SERIALIZE, messages))
    return messages, keys, list(map(built.get, keys))


_SERIALIZE: Final = tracepoint_pb2.TracePointConfig.SerializeToString
_ID: Final = attrgetter("id")


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
