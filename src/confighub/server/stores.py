"""Stores: where a ``HubServer`` gets the tracepoints it serves.

A store holds the current config as a ``StoreState`` (a version, the
tracepoints and their hash) and tells subscribers when it changes. The server
only needs the ``Store`` protocol; ``MemoryStore`` is set from code (and is the
store to use in tests), ``FileStore`` (in ``confighub.server.file_store``)
follows a YAML or JSON file.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import NamedTuple, Protocol, runtime_checkable

from confighub.exceptions import InvalidTracePoint
from confighub.model import TracePoint, config_hash

__all__ = ["MemoryStore", "Store", "StoreBase", "StoreListeners", "StoreState"]

logger = logging.getLogger("confighub")


class StoreState(NamedTuple):
    """One config of a store: its version, its tracepoints and their ``config_hash``.

    ``version`` starts at 0 and grows by one with every change of ``hash``; a
    write that leaves the hash as it was is no change.
    """

    version: int
    tracepoints: tuple[TracePoint, ...]
    hash: str


StoreCallback = Callable[[StoreState], None]
"""Told of each new ``StoreState``; see ``Store.subscribe``."""


@runtime_checkable
class Store(Protocol):
    """What ``HubServer`` serves from: the current config and a way to hear of changes."""

    @property
    def state(self) -> StoreState:
        """The current config."""
        ...

    def subscribe(self, callback: StoreCallback) -> Callable[[], None]:
        """Call ``callback(state)`` after each change; return a function that unsubscribes.

        Callbacks run on the thread that made the change, one at a time, in
        version order; a state superseded before its turn may be skipped, so a
        callback always sees the latest state. They must be quick.
        """
        ...


class StoreListeners:
    """The subscription half of a store: notifies callbacks in version order, survives errors.

    ``publish`` may be called from any thread after the state changed; it
    delivers the *current* state (read through ``current``) to each callback,
    at most once per version, never two at a time, and outside any lock of the
    store, so a callback may read or even write the store.
    """

    def __init__(self, current: Callable[[], StoreState]) -> None:
        self._current = current
        self._lock = threading.Lock()
        self._callbacks: list[StoreCallback] = []
        self._delivery = threading.RLock()
        self._delivered = -1

    def subscribe(self, callback: StoreCallback) -> Callable[[], None]:
        """Add ``callback``; return a function that removes it (idempotent)."""
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def publish(self) -> None:
        """Deliver the current state to every callback unless it was delivered already."""
        with self._delivery:
            state = self._current()
            if state.version <= self._delivered:
                return
            self._delivered = state.version
            with self._lock:
                callbacks = list(self._callbacks)
            for callback in callbacks:
                if self._delivered != state.version:
                    # A callback wrote the store: the nested publish already gave every
                    # callback the newer state, and this one must not follow it.
                    return
                try:
                    callback(state)
                except Exception:
                    logger.exception(
                        "store callback %r raised on version %d", callback, state.version
                    )


class StoreBase:
    """What every store here has: the current ``StoreState`` and its listeners."""

    _state: StoreState
    _listeners: StoreListeners

    @property
    def state(self) -> StoreState:
        """The current config."""
        return self._state

    @property
    def tracepoints(self) -> tuple[TracePoint, ...]:
        """The tracepoints of the current config."""
        return self._state.tracepoints

    @property
    def hash(self) -> str:
        """The ``config_hash`` of the current config."""
        return self._state.hash

    @property
    def version(self) -> int:
        """The version of the current config: 0, then one more per change."""
        return self._state.version

    def subscribe(self, callback: StoreCallback) -> Callable[[], None]:
        """Call ``callback(state)`` after each change; see ``Store.subscribe``."""
        return self._listeners.subscribe(callback)


class MemoryStore(StoreBase):
    """A thread-safe store set from code: ``set``, ``add`` and ``remove`` tracepoints.

    Tracepoint ids are unique within the store; ``set`` with a repeated id
    raises ``InvalidTracePoint`` and changes nothing.
    """

    def __init__(self, tracepoints: Iterable[TracePoint] = ()) -> None:
        self._lock = threading.Lock()
        initial = _unique(tuple(tracepoints))
        self._state = StoreState(0, initial, config_hash(initial))
        self._listeners = StoreListeners(lambda: self._state)

    def __repr__(self) -> str:
        state = self._state
        size = len(state.tracepoints)
        return f"MemoryStore(version={state.version}, hash={state.hash}, {size} tracepoints)"

    def set(self, tracepoints: Iterable[TracePoint]) -> StoreState:
        """Replace the whole config; return the resulting state."""
        new = _unique(tuple(tracepoints))
        return self._replace(lambda _: new)

    def add(self, tp: TracePoint) -> StoreState:
        """Add ``tp``, or replace the tracepoint with its id in place; return the new state."""

        def added(old: tuple[TracePoint, ...]) -> tuple[TracePoint, ...]:
            if any(item.id == tp.id for item in old):
                return tuple(tp if item.id == tp.id else item for item in old)
            return (*old, tp)

        return self._replace(added)

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

    def _replace(
        self, change: Callable[[tuple[TracePoint, ...]], tuple[TracePoint, ...]]
    ) -> StoreState:
        with self._lock:
            old = self._state
            new = change(old.tracepoints)
            new_hash = config_hash(new)
            if new_hash != old.hash:
                self._state = StoreState(old.version + 1, new, new_hash)
            state = self._state
        self._listeners.publish()
        return state


def _unique(tracepoints: tuple[TracePoint, ...]) -> tuple[TracePoint, ...]:
    seen: set[str] = set()
    for tp in tracepoints:
        if not isinstance(tp, TracePoint):
            raise TypeError(f"a store holds TracePoint objects, got {type(tp).__name__}")
        if tp.id in seen:
            raise InvalidTracePoint(tp.id, "id", tp.id, "is used by two tracepoints of the config")
        seen.add(tp.id)
    return tracepoints
