"""What a poll reports: ``PollResult``, and each ``RejectedTracePoint`` of an update."""

from __future__ import annotations

from typing import NamedTuple

from confighub.exceptions import InvalidTracePoint

__all__ = ["PollResult", "RejectedTracePoint"]


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
