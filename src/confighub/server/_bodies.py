"""UPDATE bodies spliced from each tracepoint's serialized bytes, kept across store versions.

A repeated message field on the wire is just its elements one after the other,
each as tag, length and bytes, so a ``PollResponse`` body is its ``current_hash``
field, one framed ``TracePointConfig`` per tracepoint (field 3) and its
``response_type``: the same bytes, in the same field order, that
``SerializeToString`` writes. A change of one tracepoint in 10,000 then costs one
``TracePointConfig`` serialized and a join, not 10,000 serialized again.

The framed bytes are kept by tracepoint digest (which ``StoreState`` has computed
already): the same tracepoint rebuilt as a fresh object, or listed in another
view, finds its bytes too. The cache is bounded in bytes, least recently used
going first; it is used from the server's event loop only.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from typing import Final

from deepproto.proto.poll.v1 import poll_pb2

from confighub.model import TracePoint

__all__ = ["DEFAULT_MAX_BYTES", "TracePointBytes", "varint"]

DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024
"""Framed tracepoint bytes kept at most: a few configs of 10,000 tracepoints."""

# Keys of PollResponse fields 2 (current_hash), 3 (response) and 4 (response_type):
# (number << 3) | wire type, where 2 is length-delimited and 0 is a varint.
_HASH_KEY: Final = b"\x12"
_RESPONSE_KEY: Final = b"\x1a"
_UPDATE_FIELD: Final = b"\x20" + bytes([poll_pb2.UPDATE])


def varint(value: int) -> bytes:
    """``value`` (>= 0) as a protobuf base-128 varint."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _framed(tp: TracePoint) -> bytes:
    """One ``response`` element: key, length and the ``TracePointConfig``'s bytes."""
    message: bytes = tp.to_proto().SerializeToString()
    return _RESPONSE_KEY + varint(len(message)) + message


def _frame_all(tracepoints: Sequence[TracePoint]) -> list[bytes]:
    return [_framed(tp) for tp in tracepoints]


class TracePointBytes:
    """Framed ``TracePointConfig`` bytes by tracepoint digest, and UPDATE bodies made of them.

    ``serialized`` counts the tracepoints serialized so far.
    """

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES, offload_at: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes!r}")
        self.serialized = 0
        self.size = 0
        self._max_bytes = max_bytes
        self._offload_at = offload_at
        self._cache: OrderedDict[bytes, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._cache)

    async def update_body(self, digest: str, tracepoints: Sequence[TracePoint]) -> bytes:
        """The UPDATE body (all but ``ts_nanos``) of ``tracepoints`` under the hash ``digest``.

        Only tracepoints whose bytes are not cached are serialized: on a worker
        thread when there are ``offload_at`` or more, so the loop is not held.
        """
        cache = self._cache
        parts: list[bytes | None] = []
        missing: list[int] = []
        for i, tp in enumerate(tracepoints):
            framed = cache.get(tp.digest)
            if framed is None:
                missing.append(i)
            parts.append(framed)
        if missing:
            fresh = [tracepoints[i] for i in missing]
            if len(fresh) < self._offload_at:
                made = _frame_all(fresh)
            else:
                made = await asyncio.get_running_loop().run_in_executor(None, _frame_all, fresh)
            self.serialized += len(made)
            for i, framed in zip(missing, made, strict=True):
                parts[i] = framed
        # Touched after the await: only the loop changes the cache, so no lock is needed.
        for tp, framed in zip(tracepoints, parts, strict=True):
            assert framed is not None
            self._keep(tp.digest, framed)
        hashed = digest.encode()
        head = _HASH_KEY + varint(len(hashed)) + hashed
        return b"".join((head, *(part for part in parts if part is not None), _UPDATE_FIELD))

    def _keep(self, key: bytes, framed: bytes) -> None:
        cache = self._cache
        if key in cache:
            cache.move_to_end(key)
            return
        if len(framed) > self._max_bytes:
            return
        cache[key] = framed
        self.size += len(framed)
        while self.size > self._max_bytes:
            _, dropped = cache.popitem(last=False)
            self.size -= len(dropped)
