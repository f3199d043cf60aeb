"""``FrozenMap``: the read-only, hashable mapping behind ``TracePoint.args`` and ``targeting``.

A ``TracePoint`` is a frozen value that goes into sets, dict keys and diffs, so
every mapping it holds must be immutable and hashable too. ``types.MappingProxyType``
is read-only but neither hashable nor a snapshot of its source, hence this type.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from typing import Any, NoReturn, TypeVar, overload

__all__ = ["FrozenMap"]

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")

# ``__setattr__`` below refuses every assignment; looked up once, not on every use.
_setattr = object.__setattr__


class FrozenMap(Mapping[K, V]):
    """An immutable, hashable mapping holding a private copy of its items.

    >>> FrozenMap({"a": "1"}) == {"a": "1"}
    True
    >>> FrozenMap({"a": "1"})
    FrozenMap({'a': '1'})
    """

    __slots__ = ("_data", "_hash")

    _data: dict[K, V]
    # Left unset until ``__hash__`` first needs it: most maps are never hashed, and
    # construction is on the hot path of reading tracepoints.
    _hash: int

    def __init__(self, items: Mapping[K, V] | Iterable[tuple[K, V]] = (), /) -> None:
        _setattr(self, "_data", dict(items))

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    # The mixin versions go through ``__getitem__`` item by item; the dict's views are C.
    def keys(self) -> KeysView[K]:
        return self._data.keys()

    def values(self) -> ValuesView[V]:
        return self._data.values()

    def items(self) -> ItemsView[K, V]:
        return self._data.items()

    @overload
    def get(self, key: K, /) -> V | None: ...
    @overload
    def get(self, key: K, default: V | T, /) -> V | T: ...
    def get(self, key: K, default: object = None, /) -> object:
        return self._data.get(key, default)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other.items())
        return NotImplemented

    def __hash__(self) -> int:
        # Computed once on demand; a racing second computation stores the same value.
        try:
            return self._hash
        except AttributeError:
            cached = hash(frozenset(self._data.items()))
            _setattr(self, "_hash", cached)
            return cached

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data!r})"

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._data,))
