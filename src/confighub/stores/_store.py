"""The store protocols (``Store``, ``WritableStore``, ``TenantStores``) and their listeners.

A ``Store`` is one config that can be read and followed. A ``WritableStore`` also
takes writes, each atomic and each with an optional compare-and-set on the
config hash (``expected_hash``): a write that expected another hash raises
``StaleConfig`` and changes nothing, so two operators cannot overwrite each
other's edits in silence. A ``TenantStores`` holds one config per tenant.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import NamedTuple, Protocol, runtime_checkable

from confighub._internal.serial import SerialQueue
from confighub.exceptions import InvalidTracePoint, StaleConfig
from confighub.model import TracePoint

__all__ = [
    "LoopStore",
    "Store",
    "StoreBase",
    "StoreCallback",
    "StoreListeners",
    "StoreState",
    "TenantStores",
    "WritableStore",
    "check_expected",
    "checked",
    "reusing",
    "unique",
]

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


@runtime_checkable
class WritableStore(Store, Protocol):
    """A store that takes writes: ``set``, ``create``, ``replace`` and ``delete``, each atomic.

    Each returns the store's state after the write. With ``expected_hash``, a
    write applies only if the config's hash is that one when it runs, and
    raises ``StaleConfig`` otherwise. A store that cannot take the write now
    raises ``StoreUnavailable``; in every case of an error nothing is applied.
    Writes block (a persistent store waits for its disk): the server calls them
    from a worker thread.
    """

    def set(
        self, tracepoints: Iterable[TracePoint], *, expected_hash: str | None = None
    ) -> StoreState:
        """Make ``tracepoints`` the whole config in one step; an id used twice is refused.

        A repeated id raises ``InvalidTracePoint`` and changes nothing.
        """
        ...

    def create(self, tp: TracePoint, *, expected_hash: str | None = None) -> StoreState:
        """Add ``tp``; raise ``TracePointExists`` if its id is in use."""
        ...

    def replace(self, tp: TracePoint, *, expected_hash: str | None = None) -> StoreState:
        """Put ``tp`` in place of the tracepoint with its id, or add it if there is none."""
        ...

    def delete(
        self, tp_id: str, *, expected_hash: str | None = None
    ) -> tuple[StoreState, TracePoint]:
        """Remove the tracepoint ``tp_id`` and return it; raise ``UnknownTracePoint`` if none."""
        ...


@runtime_checkable
class LoopStore(Protocol):
    """A store that runs on an event loop, which a ``HubServer`` lends it: its own.

    The server calls ``attach()`` on its loop before it serves (an error there is
    the server's ``ServeFailed``) and, if that returned True, ``detach()`` after it
    stopped serving. ``attach()`` returns False when the store runs already (on a
    loop of its own, say), and the server then leaves it running.
    """

    async def attach(self) -> bool:
        """Connect and load on the running loop; False if running already."""
        ...

    async def detach(self) -> None:
        """Stop running on the loop; the config stays readable."""
        ...


@runtime_checkable
class TenantStores(Protocol):
    """A store of one config per tenant; the object itself is the config of tenancy off."""

    def tenant(self, name: str) -> Store:
        """The store of tenant ``name`` (empty until written), the same object on every call."""
        ...


def checked(tp: TracePoint) -> TracePoint:
    """Return ``tp``; raise ``TypeError`` unless it is a ``TracePoint``, all a store holds."""
    if not isinstance(tp, TracePoint):
        raise TypeError(f"a store holds TracePoint objects, got {type(tp).__name__}")
    return tp


def unique(tracepoints: tuple[TracePoint, ...]) -> tuple[TracePoint, ...]:
    """Return ``tracepoints``, each ``checked``; ``InvalidTracePoint`` for an id used twice."""
    seen: set[str] = set()
    for tp in tracepoints:
        checked(tp)
        if tp.id in seen:
            raise InvalidTracePoint(tp.id, "id", tp.id, "is used by two tracepoints of the config")
        seen.add(tp.id)
    return tracepoints


def reusing(old: tuple[TracePoint, ...], new: tuple[TracePoint, ...]) -> tuple[TracePoint, ...]:
    """``new`` with each tracepoint that ``old`` holds already (same id and digest) taken from it.

    So consecutive configs share every unchanged object.
    """
    # Equal digests, not ``==``: 1 == 1.0 in a targeting value, yet they hash apart, and
    # the hash must be the one of what was set. The new digests are needed for the hash
    # anyway; an object kept from ``old`` has its own already.
    before = {tp.id: tp for tp in old}
    return tuple(
        previous
        if (previous := before.get(tp.id)) is not None and previous.digest == tp.digest
        else tp
        for tp in new
    )


def check_expected(state: StoreState, expected_hash: str | None) -> None:
    """Raise ``StaleConfig`` unless ``expected_hash`` is None or the hash of ``state``."""
    if expected_hash is not None and expected_hash != state.hash:
        raise StaleConfig(expected_hash, state.hash)


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
