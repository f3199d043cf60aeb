"""The store protocol: ``StoreState``, ``Store``, and the listeners every store notifies."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import NamedTuple, Protocol, runtime_checkable

from confighub._internal.serial import SerialQueue
from confighub.model import TracePoint

__all__ = ["Store", "StoreBase", "StoreCallback", "StoreListeners", "StoreState"]

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

        Callbacks run one at a time, in version order, on the thread that made the
        change (or on one still delivering an earlier change, which then delivers
        this one too); a state superseded before its turn may be skipped, so a
        callback always sees the latest state. They must be quick.
        """
        ...


class StoreListeners:
    """The subscription half of a store: notifies callbacks in version order, survives errors.

    ``publish`` may be called from any thread after the state changed; it
    delivers the *current* state (read through ``current``) to each callback,
    at most once per version, never two at a time (through a ``SerialQueue``),
    and outside any lock of the store, so a callback may read or even write the
    store.
    """

    def __init__(self, current: Callable[[], StoreState]) -> None:
        self._current = current
        self._lock = threading.Lock()
        self._callbacks: tuple[StoreCallback, ...] = ()
        self._delivered = -1
        self._queue: SerialQueue[None] = SerialQueue(self._deliver)

    def subscribe(self, callback: StoreCallback) -> Callable[[], None]:
        """Add ``callback``; return a function that removes it (idempotent)."""
        with self._lock:
            self._callbacks = (*self._callbacks, callback)

        def unsubscribe() -> None:
            with self._lock:
                callbacks = list(self._callbacks)
                if callback in callbacks:
                    callbacks.remove(callback)
                    self._callbacks = tuple(callbacks)

        return unsubscribe

    def publish(self) -> None:
        """Deliver the current state to every callback unless it was delivered already."""
        self._queue.submit(None)

    def _deliver(self, _: None) -> None:
        current = self._current
        state = current()
        if state.version <= self._delivered:
            return
        self._delivered = state.version
        for callback in self._callbacks:
            if current().version != state.version:
                # A callback wrote the store: its publish, queued behind this one, gives
                # every callback the newer state, which this one must not follow.
                return
            try:
                callback(state)
            except Exception:
                logger.exception("store callback %r raised on version %d", callback, state.version)


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
