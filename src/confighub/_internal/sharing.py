"""What consecutive configs share: the objects that differ between two, and values kept per config.

A config's versions are tuples that hold the same item objects except where
something changed. So what differs between two versions is found by identity,
in C (``map(is_not, …)``), without comparing a single item; and what was
computed for one version (its index by id, its sorted digests) is kept by the
tuple's identity for the next, which differs from it by a few objects. The diff
(``events``) and the config hash (``model``) both build on these two.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from itertools import compress, count, islice
from operator import is_not
from typing import Any, Generic, TypeVar, overload

__all__ = ["ConfigMemo", "differing"]

_V = TypeVar("_V")


_Parts = tuple[list[Any], list[Any], int]


@overload
def differing(old: Sequence[Any], new: Sequence[Any]) -> _Parts: ...
@overload
def differing(old: Sequence[Any], new: Sequence[Any], most: int) -> _Parts | None: ...
def differing(old: Sequence[Any], new: Sequence[Any], most: int | None = None) -> _Parts | None:
    """The items of ``old`` and ``new`` that can differ (all others are shared), and the tail.

    For configs of one length, those at positions where the objects differ (the tail is
    -1: they may be anywhere); else those between the longest shared head and tail (one
    item, for one added or removed), and the tail is the length of that shared tail.
    None when either side has more than ``most`` of them.
    """
    if len(old) == len(new):
        moved = compress(count(), map(is_not, old, new))
        positions = list(moved if most is None else islice(moved, most + 1))
        if most is not None and len(positions) > most:
            return None
        return [old[n] for n in positions], [new[n] for n in positions], -1
    shortest = min(len(old), len(new))
    head = next(compress(count(), map(is_not, old, new)), shortest)
    tail = next(compress(count(), map(is_not, reversed(old), reversed(new))), shortest)
    tail = min(tail, shortest - head)
    if most is not None and max(len(old), len(new)) - head - tail > most:
        return None
    return list(old[head : len(old) - tail]), list(new[head : len(new) - tail]), tail


class ConfigMemo(Generic[_V]):
    """A value kept for each of the last ``size`` config tuples, by the tuple's identity.

    The tuple itself is held, so that its ``id`` stays its own while its value is kept.
    Safe from any thread.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._kept: OrderedDict[int, tuple[tuple[Any, ...], _V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, config: tuple[Any, ...]) -> _V | None:
        """The value kept for this very tuple, or None."""
        entry = self._kept.get(id(config))
        return entry[1] if entry is not None and entry[0] is config else None

    def __contains__(self, config: tuple[Any, ...]) -> bool:
        return self.get(config) is not None

    def put(self, config: tuple[Any, ...], value: _V) -> None:
        """Keep ``value`` for ``config``, forgetting the least recent past ``size``."""
        with self._lock:
            self._kept[id(config)] = (config, value)
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)

    def latest(self) -> list[tuple[tuple[Any, ...], _V]]:
        """The tuples kept and their values, the most recent first."""
        with self._lock:
            return list(reversed(self._kept.values()))
