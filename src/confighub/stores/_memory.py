"""``MemoryStore``: a store set from code or written through the API, the one to use in tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from confighub._wire.tenants import DEFAULT_TENANT, check_tenant
from confighub.exceptions import TracePointExists, UnknownTracePoint
from confighub.model import TracePoint, config_hash
from confighub.stores._store import (
    StoreBase,
    StoreListeners,
    StoreState,
    check_expected,
    checked,
    reusing,
    unique,
)

__all__ = ["MemoryStore"]


class MemoryStore(StoreBase):
    """A thread-safe store set from code (``set``, ``add``, ``remove``) or written (``create``…).

    Tracepoint ids are unique within the store; ``set`` with a repeated id
    raises ``InvalidTracePoint`` and changes nothing. It is a ``WritableStore``
    (``create``, ``replace``, ``delete`` with compare-and-set on the hash) and a
    ``TenantStores``: ``tenant(name)`` is another ``MemoryStore``, made empty on
    first use, and the store itself is the config of tenancy off. Nothing is
    kept across restarts.
    """

    def __init__(self, tracepoints: Iterable[TracePoint] = ()) -> None:
        self._lock = threading.Lock()
        initial = unique(tuple(tracepoints))
        self._state = StoreState(0, initial, config_hash(initial))
        self._listeners = StoreListeners(lambda: self._state)
        self._tenants: dict[str, MemoryStore] = {}

    def __repr__(self) -> str:
        state = self._state
        size = len(state.tracepoints)
        return f"MemoryStore(version={state.version}, hash={state.hash}, {size} tracepoints)"

    def set(
        self, tracepoints: Iterable[TracePoint], *, expected_hash: str | None = None
    ) -> StoreState:
        """Replace the whole config; return the resulting state (see ``WritableStore``).

        A tracepoint equal to the current one with its id (and hashing alike) is
        replaced by that one, so consecutive configs share every unchanged object.
        """
        new = unique(tuple(tracepoints))
        return self._replace(lambda old: reusing(old, new), expected_hash)

    def add(self, tp: TracePoint) -> StoreState:
        """Add ``tp``, or replace the tracepoint with its id in place; return the new state.

        ``replace`` without a hash to compare, under the name code set it by before writes.
        """
        return self.replace(tp)

    def remove(self, tp_id: str) -> bool:
        """Remove the tracepoint with id ``tp_id``; return whether there was one."""
        found = False

        def removed(old: tuple[TracePoint, ...]) -> tuple[TracePoint, ...]:
            nonlocal found
            kept = tuple(item for item in old if item.id != tp_id)
            found = len(kept) != len(old)
            return kept

        self._replace(removed)
        return found

    def create(self, tp: TracePoint, *, expected_hash: str | None = None) -> StoreState:
        """Add ``tp``; raise ``TracePointExists`` if its id is in use (see ``WritableStore``)."""

        def created(old: tuple[TracePoint, ...]) -> tuple[TracePoint, ...]:
            if any(item.id == tp.id for item in old):
                raise TracePointExists(tp.id)
            return (*old, tp)

        checked(tp)
        return self._replace(created, expected_hash)

    def replace(self, tp: TracePoint, *, expected_hash: str | None = None) -> StoreState:
        """Put ``tp`` in place of the tracepoint with its id, or add it (see ``WritableStore``)."""
        checked(tp)
        return self._replace(lambda old: _put(old, tp), expected_hash)

    def delete(
        self, tp_id: str, *, expected_hash: str | None = None
    ) -> tuple[StoreState, TracePoint]:
        """Remove the tracepoint ``tp_id`` and return it (see ``WritableStore``)."""
        gone: list[TracePoint] = []

        def deleted(old: tuple[TracePoint, ...]) -> tuple[TracePoint, ...]:
            kept = tuple(item for item in old if item.id != tp_id)
            if len(kept) == len(old):
                raise UnknownTracePoint(tp_id)
            gone.extend(item for item in old if item.id == tp_id)
            return kept

        state = self._replace(deleted, expected_hash)
        return state, gone[0]

    def tenant(self, name: str) -> MemoryStore:
        """The store of tenant ``name``: empty on first use, the same object after."""
        if name == DEFAULT_TENANT:
            return self
        check_tenant(name)
        with self._lock:
            store = self._tenants.get(name)
            if store is None:
                store = self._tenants[name] = MemoryStore()
        return store

    def _replace(
        self,
        change: Callable[[tuple[TracePoint, ...]], tuple[TracePoint, ...]],
        expected_hash: str | None = None,
    ) -> StoreState:
        with self._lock:
            old = self._state
            check_expected(old, expected_hash)
            new = change(old.tracepoints)
            new_hash = config_hash(new)
            if new_hash != old.hash:
                self._state = StoreState(old.version + 1, new, new_hash)
            state = self._state
        self._listeners.publish()
        return state


def _put(old: tuple[TracePoint, ...], tp: TracePoint) -> tuple[TracePoint, ...]:
    if any(item.id == tp.id for item in old):
        return tuple(tp if item.id == tp.id else item for item in old)
    return (*old, tp)
