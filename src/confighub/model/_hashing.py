"""Every hash rule of a config: of tracepoints, of a client's view, and of the effective config.

``config_hash`` is the SHA-256 of the sorted per-tracepoint digests
(``TracePoint.digest``, see ``confighub.model._canonical``): independent of list
order, sensitive to duplicates, and free of Python's per-process ``hash()``
salt. Every hash confighub makes is ``HASH_LENGTH`` hex digits. The sorted
digests of the last few config tuples are kept, so that a config sharing all but
a few objects with one of them is hashed without sorting again.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left, insort
from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import Any, Final

from confighub._internal.sharing import ConfigMemo, differing
from confighub.model._tracepoint import TracePoint

__all__ = ["HASH_LENGTH", "config_hash", "effective_hash", "tracepoint_digest", "view_hash"]

HASH_LENGTH: Final = 32
"""Hex digits in every hash confighub makes (128 bits: collisions are out of reach)."""

# Bumped whenever the canonical form changes, so old and new hashes never collide.
_VERSION: Final = b"confighub-config-v1\n"
_OPAQUE: Final = b"opaque-view\0"
_digest_of: Final = attrgetter("digest")
# Past this many differing objects, sorting afresh beats moving digests one by one.
_MOST_MOVED: Final = 64
_CACHED_CONFIGS: Final = 4

# Each recent config tuple's digests, sorted.
_sorted: ConfigMemo[list[bytes]] = ConfigMemo(_CACHED_CONFIGS)


def _hex(digest: Any) -> str:
    """The hash of a finished ``hashlib`` object, cut to ``HASH_LENGTH``."""
    text: str = digest.hexdigest()[:HASH_LENGTH]
    return text


def tracepoint_digest(tp: TracePoint) -> str:
    """Return the SHA-256 hex digest of one tracepoint's canonical form."""
    digest: bytes = tp.digest
    return digest.hex()


def config_hash(tracepoints: Iterable[TracePoint]) -> str:
    """Return the canonical hash of a config: 32 hex digits, the same in every process.

    The order of ``tracepoints`` and of each one's ``args`` and ``targeting`` does
    not matter; duplicates do.
    """
    return _hex(hashlib.sha256(_VERSION + b"".join(_sorted_digests(tracepoints))))


def _sorted_digests(tracepoints: Iterable[TracePoint]) -> list[bytes]:
    # The speed trick of config_hash: sorting 10,000 digests costs six times hashing them,
    # and a store's consecutive configs are tuples sharing all but a few objects. So the
    # sorted digests of the last few tuples are kept, and a tuple that differs from one
    # of them by a few objects takes its list, less the digests of the objects gone, plus
    # those of the objects come (found by identity; the list is the same as sorted()'s).
    if type(tracepoints) is not tuple:
        return sorted(map(_digest_of, tracepoints))
    config: tuple[TracePoint, ...] = tracepoints
    kept = _sorted.get(config)
    if kept is not None:
        return kept
    for previous, previous_digests in _sorted.latest():
        parts = differing(previous, config, _MOST_MOVED)
        if parts is not None:
            digests = previous_digests.copy()
            for tp in parts[0]:
                del digests[bisect_left(digests, tp.digest)]
            for tp in parts[1]:
                insort(digests, tp.digest)
            break
    else:
        digests = sorted(map(_digest_of, config))
    _sorted.put(config, digests)
    return digests


def view_hash(items: Sequence[Any]) -> str:
    """The hash of a view: ``config_hash`` for tracepoints, else a digest of the items' reprs."""
    if all(type(item) is TracePoint for item in items):
        return config_hash(items)
    # Opaque items (a Deep agent's triggers) have no canonical form; their repr is the
    # best stable description there is, and sorting keeps it independent of order.
    digest = hashlib.sha256(_OPAQUE)
    for text in sorted(map(repr, items)):
        digest.update(text.encode())
        digest.update(b"\0")
    return _hex(digest)


def effective_hash(server_hash: str | None, custom_hash: str) -> str:
    """The hash of a server config followed by custom tracepoints whose hash is ``custom_hash``."""
    return _hex(hashlib.sha256(f"{server_hash or ''}+{custom_hash}".encode()))
