"""What each client is served, and the response bytes for it, serialized once per hash.

A *view* is the part of the store's config one client gets: every untargeted
tracepoint plus the targeted ones its resource matches. Clients with the same
view share one ``View``, which holds the serialized ``PollResponse`` bodies
for UPDATE and NO_CHANGE *without* ``ts_nanos``. Protobuf merges the fields of
concatenated messages, so a response is ``ts_field(now) + body``: fresh time,
cached bytes.

The cache is bounded, because clients choose their resources and so how many
views there are: it holds at most ``max_views``, the least recently used going
first. A store change drops every view that no client can be served any more
(one holding a tracepoint that is gone or changed, or lacking a new untargeted
one); the others are kept, for their bytes, only until a client of the new
version claims one by hash, and they count toward the bound meanwhile.

A view is keyed by the digests of the targeted tracepoints it holds, which
``MatchCache`` keeps per client resource across changes; its UPDATE body is
spliced from per-tracepoint bytes kept across changes (``TracePointBytes``), so a
change costs what changed, not the whole config per view.
"""

from __future__ import annotations

import asyncio
import heapq
import struct
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Final

from deepproto.proto.poll.v1 import poll_pb2

from confighub.model import TracePoint, config_hash
from confighub.server._bodies import TracePointBytes
from confighub.server._matching import NOTHING, MatchCache
from confighub.stores import StoreState

__all__ = [
    "DEFAULT_MAX_VIEWS",
    "OFFLOAD_AT",
    "TS_FIELD_SIZE",
    "View",
    "ViewCache",
    "check_max_views",
    "resource_key",
    "ts_field",
]

# PollResponse.ts_nanos is field 1, a fixed64: wire type 1, so the key byte is (1 << 3) | 1.
_TS_FIELD: Final = struct.Struct("<BQ")
_TS_KEY: Final = 0x09
TS_FIELD_SIZE: Final = _TS_FIELD.size

DEFAULT_MAX_VIEWS: Final = 256
"""Views cached at most: each can hold a whole config's bytes, so this bounds the memory."""

OFFLOAD_AT: Final = 1000
"""Views of this many tracepoints or more are serialized on a worker thread, not on the loop
(10,000 tracepoints take about 70 ms, which every other client would wait through)."""


def check_max_views(max_views: int) -> None:
    """Raise ``ValueError`` unless ``max_views`` is a bound a cache can keep."""
    if max_views < 1:
        raise ValueError(f"max_views must be >= 1, got {max_views!r}")


def resource_key(resource: Any) -> bytes:
    """The bytes that stand for a client's resource: equal resources, equal bytes."""
    key: bytes = resource.SerializeToString(deterministic=True)
    return key


def ts_field(ts_nanos: int) -> bytes:
    """Return ``PollResponse(ts_nanos=ts_nanos)`` serialized, to put before a cached body."""
    return _TS_FIELD.pack(_TS_KEY, ts_nanos)


@dataclass(slots=True, eq=False)
class View:
    """The tracepoints one kind of client gets, their hash, and the cached response bodies."""

    hash: str
    tracepoints: tuple[TracePoint, ...]
    no_change: bytes
    version: int
    """The store version the view was last found current in."""
    targeted: frozenset[bytes] = field(repr=False)
    """The digests of its targeted tracepoints: what a store change must keep for it to survive."""
    _update: bytes | None = field(default=None, repr=False)
    _pending: asyncio.Future[bytes] | None = field(default=None, repr=False)
    too_large_logged: bool = field(default=False, repr=False)
    stamped: tuple[int, bytes] | None = field(default=None, repr=False)
    """A whole UPDATE answer (``ts_nanos`` and body) made a moment ago, for polls woken with it."""
    http_json: bytes | asyncio.Future[bytes] | None = field(default=None, repr=False)
    """The HTTP API's JSON of it but the time and type (``confighub.server._http_polls``), or
    the future of it while a worker thread makes it."""


class ViewCache:
    """The views of the current store state, built on first use and reused by hash.

    Not thread-safe: the server uses it from its event loop only.
    ``serializations`` counts the response bodies serialized so far.
    """

    def __init__(
        self, state: StoreState, *, max_views: int = DEFAULT_MAX_VIEWS, offload_at: int = OFFLOAD_AT
    ) -> None:
        check_max_views(max_views)
        self.serializations = 0
        self.version = -1
        self._max_views = max_views
        self._state = state
        self._untargeted: frozenset[bytes] | None = None
        self._untargeted_at: list[int] = []
        self._targeted_at: dict[bytes, int] = {}
        self._more_at: dict[bytes, list[int]] = {}
        self._by_key: OrderedDict[frozenset[bytes], View] = OrderedDict()
        self.matches = MatchCache()
        self.bytes = TracePointBytes(offload_at=offload_at)
        self._reusable: dict[str, View] = {}
        self.update(state)

    def __len__(self) -> int:
        return len(self._by_key) + len(self._reusable)

    def views(self) -> tuple[View, ...]:
        """Every view held: those of the current version, then those kept for reuse."""
        return (*self._by_key.values(), *self._reusable.values())

    def update(self, state: StoreState) -> None:
        """Move to a new store state, keeping only the views that may still be served."""
        # Positions kept once per version, so that building a view costs its own size,
        # not the config's: each client resource's first poll after a change builds one.
        # Plain ints, not (position, tracepoint) pairs: 10,000 new tuples per change made
        # the garbage collector's full pass (some 50 ms) fall into this one loop callback.
        tracepoints = state.tracepoints
        untargeted_at: list[int] = []
        targeted_at: dict[bytes, int] = {}
        more_at: dict[bytes, list[int]] = {}  # a targeted tracepoint listed twice or more
        targeting = {}
        for at, tp in enumerate(tracepoints):
            if not tp.targeting:
                untargeted_at.append(at)
            elif (digest := tp.digest) in targeted_at:
                more_at.setdefault(digest, []).append(at)
            else:
                targeted_at[digest] = at
                targeting[digest] = tp.targeting
        self._untargeted_at, self._targeted_at, self._more_at = untargeted_at, targeted_at, more_at
        untargeted = frozenset(tracepoints[at].digest for at in untargeted_at)
        targeted = targeted_at.keys()
        # Every view holds every untargeted tracepoint, so when those change no view survives.
        survivors = self._by_key.values() if untargeted == self._untargeted else ()
        self._reusable = {view.hash: view for view in survivors if view.targeted <= targeted}
        self._by_key = OrderedDict()
        self.version = state.version
        self._state = state
        self._untargeted = untargeted
        self.matches.update(state.version, targeting)

    async def prepare(self, resource: Any, serialized: bytes | None = None) -> None:
        """Match ``resource`` ahead of ``view_for`` when that is long, yielding to the loop.

        ``serialized`` is ``resource_key(resource)`` when the caller has it already.
        """
        if self.matches.targeting:
            await self.matches.prepare(
                resource_key(resource) if serialized is None else serialized, resource
            )

    def view_for(self, resource: Any, serialized: bytes | None = None) -> View:
        """Return the view of a client whose ``PollRequest.resource`` is ``resource``.

        ``serialized`` is ``resource_key(resource)`` when the caller has it already.
        """
        if not self.matches.targeting:
            key = NOTHING
            view = self._by_key.get(key)
            if view is None:
                return self._build(key)
        else:
            known = resource_key(resource) if serialized is None else serialized
            matched = self.matches.matched(known, resource)
            view = self._by_key.get(matched)
            if view is None:
                return self._build(matched)
            # Equal sets from clients of one view become one object: less memory, cheaper lookups.
            self.matches.share(known, view.targeted)
            key = view.targeted
        self._by_key.move_to_end(key)
        return view

    async def update_body(self, view: View) -> bytes:
        """Return the UPDATE body of ``view`` (all but ``ts_nanos``), serializing it once.

        A large view is serialized on a worker thread, and every poll that needs
        it meanwhile waits for that one serialization.
        """
        body = view._update
        if body is not None:
            return body
        pending = view._pending
        if pending is None:
            pending = asyncio.ensure_future(self.bytes.update_body(view.hash, view.tracepoints))
            view._pending = pending
        # Shielded: a poll that is cancelled while waiting must not cancel the others'.
        body = await asyncio.shield(pending)
        if view._update is None:
            view._update, view._pending = body, None
            self.serializations += 1
        return body

    def _build(self, key: frozenset[bytes]) -> View:
        state = self._state
        targeted_at = self._targeted_at
        chosen = [targeted_at[digest] for digest in key]
        if self._more_at:
            chosen += [at for digest in key for at in self._more_at.get(digest, ())]
        chosen.sort()
        # In the store's order, as the store lists them.
        listed = state.tracepoints
        tracepoints = tuple(listed[at] for at in heapq.merge(self._untargeted_at, chosen))
        # A view of the whole config has the store's hash, computed already.
        whole = len(tracepoints) == len(state.tracepoints)
        digest = state.hash if whole else config_hash(tracepoints)
        # Same hash, same tracepoints (perhaps listed in another order, which the
        # hash and the agents ignore): the bytes serialized before still hold.
        view = self._reusable.pop(digest, None)
        if view is None:
            no_change = poll_pb2.PollResponse(
                current_hash=digest, response_type=poll_pb2.NO_CHANGE
            ).SerializeToString()
            self.serializations += 1
            # ``key`` is the digests of the targeted tracepoints it holds, as ``targeted`` is.
            view = View(digest, tracepoints, no_change, self.version, key)
        view.version = self.version
        while len(self) >= self._max_views:
            self._evict()
        self._by_key[view.targeted] = view
        return view

    def _evict(self) -> None:
        # Views kept for reuse go first: no client of the current version has asked for them.
        if self._reusable:
            del self._reusable[next(iter(self._reusable))]
        else:
            self._by_key.popitem(last=False)
