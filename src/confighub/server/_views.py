"""What each client is served, and the response bytes for it, serialized once per hash.

A *view* is the part of the store's config one client gets: every untargeted
tracepoint plus the targeted ones its resource matches. Clients with the same
view share one ``View``, which holds the serialized ``PollResponse`` bodies
for UPDATE and NO_CHANGE *without* ``ts_nanos``. Protobuf merges the fields of
concatenated messages, so a response is ``ts_field(now) + body``: fresh time,
cached bytes. A store change keeps the bodies of every view whose hash did not
change.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, Final

from deepproto.proto.poll.v1 import poll_pb2

from confighub.model import TracePoint, config_hash
from confighub.server._targeting import matches, resource_attributes
from confighub.stores import StoreState

__all__ = ["TS_FIELD_SIZE", "View", "ViewCache", "ts_field"]

# PollResponse.ts_nanos is field 1, a fixed64: wire type 1, so the key byte is (1 << 3) | 1.
_TS_FIELD: Final = struct.Struct("<BQ")
_TS_KEY: Final = 0x09
TS_FIELD_SIZE: Final = _TS_FIELD.size
# Clients' resources can differ in ways that select the same view, or that select
# many views; either way the cache stays small.
_MAX_VIEWS: Final = 1024


def ts_field(ts_nanos: int) -> bytes:
    """Return ``PollResponse(ts_nanos=ts_nanos)`` serialized, to put before a cached body."""
    return _TS_FIELD.pack(_TS_KEY, ts_nanos)


@dataclass(slots=True, eq=False)
class View:
    """The tracepoints one kind of client gets, their hash, and the cached response bodies."""

    hash: str
    tracepoints: tuple[TracePoint, ...]
    no_change: bytes
    _update: bytes | None = field(default=None, repr=False)
    too_large_logged: bool = field(default=False, repr=False)


class ViewCache:
    """The views of the current store state, built on first use and reused by hash.

    Not thread-safe: the server uses it from its event loop only.
    ``serializations`` counts the response bodies serialized so far.
    """

    def __init__(self, state: StoreState) -> None:
        self.serializations = 0
        self.version = -1
        self._tracepoints: tuple[TracePoint, ...] = ()
        self._targeted: tuple[tuple[int, TracePoint], ...] = ()
        self._by_key: dict[tuple[int, ...], View] = {}
        self._previous: dict[str, View] = {}
        self.update(state)

    def update(self, state: StoreState) -> None:
        """Move to a new store state, keeping the bodies of views whose hash survives it."""
        self.version = state.version
        self._tracepoints = state.tracepoints
        self._targeted = tuple((i, tp) for i, tp in enumerate(state.tracepoints) if tp.targeting)
        self._previous = {view.hash: view for view in self._by_key.values()}
        self._by_key = {}

    def view_for(self, resource: Any) -> View:
        """Return the view of a client whose ``PollRequest.resource`` is ``resource``."""
        if self._targeted:
            attributes = resource_attributes(resource)
            key = tuple(i for i, tp in self._targeted if matches(tp.targeting, attributes))
        else:
            key = ()
        view = self._by_key.get(key)
        if view is None:
            view = self._build(key)
        return view

    def update_body(self, view: View) -> bytes:
        """Return the UPDATE body of ``view`` (all but ``ts_nanos``), serializing it once."""
        body = view._update
        if body is None:
            message = poll_pb2.PollResponse(
                current_hash=view.hash,
                response=[tp.to_proto() for tp in view.tracepoints],
                response_type=poll_pb2.UPDATE,
            )
            body = view._update = message.SerializeToString()
            self.serializations += 1
        return body

    def _build(self, key: tuple[int, ...]) -> View:
        chosen = set(key)
        tracepoints = tuple(
            tp for i, tp in enumerate(self._tracepoints) if not tp.targeting or i in chosen
        )
        digest = config_hash(tracepoints)
        # Same hash, same tracepoints (perhaps listed in another order, which the
        # hash and the agents ignore): the bytes serialized before still hold.
        view = self._previous.get(digest)
        if view is None:
            no_change = poll_pb2.PollResponse(
                current_hash=digest, response_type=poll_pb2.NO_CHANGE
            ).SerializeToString()
            self.serializations += 1
            view = View(digest, tracepoints, no_change)
        if len(self._by_key) >= _MAX_VIEWS:
            del self._by_key[next(iter(self._by_key))]
        self._by_key[key] = view
        return view
