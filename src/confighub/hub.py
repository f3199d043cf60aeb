"""``ConfigHub``: the current tracepoint config, and every change to it as a stream.

A source (the gRPC poller, a file, code) calls ``update_new_config`` or
``update_no_change``; code in the same process adds custom tracepoints with
``add_custom``. The hub publishes each change of the *effective* config
(server config followed by the custom tracepoints) on ``changes``, in order,
exactly once per subscriber, synchronously on the publishing thread.
"""

from __future__ import annotations

import logging
import reprlib
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any, Final, NamedTuple

from reactivex import Observable, abc

from confighub._internal.aio import ObservableIterator
from confighub._internal.dispatch import Channel, Dispatcher
from confighub._internal.lifecycle import Closing
from confighub.events import ConfigChange, Item, new_change
from confighub.exceptions import HubClosed
from confighub.model import TracePoint, config_hash, effective_hash

__all__ = ["ConfigHub", "CustomFactory", "ObserverError", "SourceState", "SourceStatus"]

logger = logging.getLogger("confighub")

CustomFactory = Callable[[str, str, int, dict[str, str], list[str], list[Any]], Item]
"""Builds the item for a custom tracepoint from ``(id, path, line, args, watches, metrics)``."""


class SourceState(StrEnum):
    """The health of whatever feeds the hub."""

    INITIALIZING = "initializing"
    """No config applied yet."""
    VALID = "valid"
    """The last poll was applied."""
    INTERRUPTED = "interrupted"
    """The source failed; the hub keeps the last good config."""
    OFF = "off"
    """The source was stopped or the hub closed."""


class SourceStatus(NamedTuple):
    """A state of the source, when it began (ns since the epoch) and the last error seen."""

    state: SourceState
    ts: int
    error: BaseException | None = None


class ObserverError(NamedTuple):
    """An observer raised: which one, what it raised, and the value it was given."""

    observer: object
    error: Exception
    event: object


_VALID: Final = SourceState.VALID


def _summary(event: object) -> str:
    # A log line must stay short even when a config holds thousands of tracepoints.
    if isinstance(event, ConfigChange):
        return (
            f"ConfigChange(ts={event.ts}, {event.old_hash} -> {event.new_hash},"
            f" {len(event.old)} -> {len(event.new)} items)"
        )
    return reprlib.repr(event)


def _described(observer: abc.ObserverBase[Any]) -> object:
    # rx wraps subscribers in an AutoDetachObserver; report the callable the user gave.
    return getattr(observer, "_on_next", observer)


class ConfigHub(Closing):
    """Holds the effective tracepoint config and publishes every change to it.

    Every method is safe from any thread. ``clock`` (ns since the epoch) stamps
    changes that do not come from a poll, such as custom tracepoints;
    ``custom_factory`` builds the item that ``add_custom`` puts in the config
    (a ``TracePoint`` by default).
    """

    def __init__(
        self,
        *,
        custom_factory: CustomFactory | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._clock = clock
        self._custom_factory = custom_factory
        self._dispatcher = Dispatcher()
        self._lock = self._dispatcher.lock
        self._deliver = self._dispatcher.deliver
        self._on_observer_error = self._report
        self._closed = False
        self._last_update = 0
        self._server_hash: str | None = None
        self._server: tuple[Item, ...] = ()
        self._custom: dict[str, tuple[TracePoint, Item]] = {}
        self._custom_hash: str | None = None
        self._hash: str | None = None
        self._config: tuple[Item, ...] = ()
        self._status = SourceStatus(SourceState.INITIALIZING, clock())
        self._changes: Channel[ConfigChange] = Channel(self._dispatcher, self._on_observer_error)
        self._heartbeats: Channel[int] = Channel(self._dispatcher, self._on_observer_error)
        self._statuses: Channel[SourceStatus] = Channel(
            self._dispatcher, self._on_observer_error, replay=lambda: self._status
        )
        self._errors: Channel[ObserverError] = Channel(self._dispatcher, self._log_only)
        self._with_current: Observable[ConfigChange] = Observable(self._subscribe_with_current)

    # -- streams ---------------------------------------------------------------------------

    @property
    def changes(self) -> Observable[ConfigChange]:
        """Every change published after subscribing, once each, in order (hot)."""
        return self._changes.observable

    def changes_with_current(self) -> Observable[ConfigChange]:
        """The current config as a first change from ``None``, then ``changes``, gap-free."""
        return self._with_current

    @property
    def heartbeats(self) -> Observable[int]:
        """The ts of every applied poll, change or not."""
        return self._heartbeats.observable

    @property
    def status(self) -> Observable[SourceStatus]:
        """The source's health; a new subscriber first gets the current status."""
        return self._statuses.observable

    @property
    def errors(self) -> Observable[ObserverError]:
        """Each exception an observer raised, with the observer and the event."""
        return self._errors.observable

    def iter_changes(self, *, with_current: bool = False) -> ObservableIterator[ConfigChange]:
        """``changes`` (or ``changes_with_current()``) for ``async for``, in order, none dropped.

        Made inside a coroutine, it subscribes at once; otherwise at the first
        ``__anext__``. Cancelling the waiting task, ``aclose()`` or leaving
        ``async with`` unsubscribes; closing the hub ends the iteration.
        """
        return ObservableIterator(self._with_current if with_current else self.changes)

    # -- state -----------------------------------------------------------------------------

    @property
    def current_config(self) -> tuple[Item, ...]:
        """The effective config: server config followed by custom tracepoints."""
        return self._config

    @property
    def current_hash(self) -> str | None:
        """The hash of the effective config (the server's hash when there is no custom one)."""
        return self._hash

    @property
    def server_config(self) -> tuple[Item, ...]:
        """The config as the source last gave it, without custom tracepoints."""
        return self._server

    @property
    def server_hash(self) -> str | None:
        """The hash the source gave last: what a poll sends back as ``current_hash``."""
        return self._server_hash

    @property
    def last_update(self) -> int:
        """The ts of the last applied poll, 0 before the first."""
        return self._last_update

    @property
    def current_status(self) -> SourceStatus:
        """The source's health now."""
        return self._status

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._closed

    # -- updates ---------------------------------------------------------------------------

    def update_new_config(self, ts: int, new_hash: str, new_config: Iterable[Item]) -> None:
        """Apply a poll that returned ``new_config``; publishes a change unless the hash is same."""
        config = new_config if type(new_config) is tuple else tuple(new_config)
        # This is the hot path: explicit acquire/release and local lookups keep it lean.
        lock = self._lock
        lock.acquire()
        try:
            self._poll_applied(ts)
            if new_hash != self._server_hash:
                self._server_hash = new_hash
                self._server = config
                self._publish_effective(ts)
            if beats := self._heartbeats.observers:
                self._deliver((beats, ts, self._on_observer_error))
        finally:
            lock.release()

    def update_no_change(self, ts: int) -> None:
        """Apply a poll that found the config unchanged (a heartbeat)."""
        with self._lock:
            self._poll_applied(ts)
            self._heartbeats.publish(ts)

    def set_status(self, state: SourceState, error: BaseException | None = None) -> None:
        """Report the source's health; ``error`` is kept until a newer one replaces it."""
        with self._lock:
            self._check_open()
            self._set_status(state, error)

    def add_custom(
        self,
        path: str,
        line: int,
        args: Mapping[str, str] | None = None,
        watches: Sequence[str] = (),
        metrics: Sequence[Any] = (),
        *,
        factory: CustomFactory | None = None,
    ) -> str:
        """Add a tracepoint from code; returns its id. Raises ``InvalidTracePoint`` on bad input.

        ``factory`` (or the hub's ``custom_factory``) builds the item that goes
        in the config; the hash is always computed from the validated
        ``TracePoint``, so equal input hashes equally whatever the item type.
        """
        tp_id = str(uuid.uuid4())
        args = args if args is not None else {}
        tracepoint = TracePoint(tp_id, path, line, args, watches, metrics)
        build = factory or self._custom_factory
        item = (
            build(tp_id, path, line, dict(tracepoint.args), list(watches), list(metrics))
            if build is not None
            else tracepoint
        )
        with self._lock:
            self._check_open()
            self._custom[tp_id] = (tracepoint, item)
            self._custom_changed()
        return tp_id

    def remove_custom(self, tp_id: str) -> bool:
        """Remove a custom tracepoint by the id ``add_custom`` returned; False if unknown."""
        with self._lock:
            self._check_open()
            if self._custom.pop(tp_id, None) is None:
                return False
            self._custom_changed()
        return True

    def report_error(self, culprit: object, error: Exception, event: object) -> None:
        """Log that ``culprit`` raised ``error`` on ``event`` and publish it on ``errors``.

        The hub calls this for its own observers; adapters that dispatch on
        their own (such as ``compat``) call it for theirs.
        """
        logger.error("observer %r raised on %s", culprit, _summary(event), exc_info=error)
        with self._lock:
            self._errors.publish(ObserverError(culprit, error, event))

    def close(self) -> None:
        """Complete every stream; later updates raise ``HubClosed``. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._set_status(SourceState.OFF, None)
            self._closed = True
            for channel in (self._changes, self._heartbeats, self._statuses, self._errors):
                channel.complete()

    def __repr__(self) -> str:
        return (
            f"<ConfigHub {self._status.state} hash={self._hash} items={len(self._config)}"
            f" custom={len(self._custom)}{' closed' if self._closed else ''}>"
        )

    # -- internals; the ``_dispatcher.lock`` is held by the caller ------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise HubClosed("the hub is closed; create a new ConfigHub to apply updates")

    def _poll_applied(self, ts: int) -> None:
        if self._closed:  # tested here first: a call less on the hot path
            self._check_open()
        self._last_update = ts
        if self._status.state is not _VALID:
            self._set_status(_VALID, None)

    def _set_status(self, state: SourceState, error: BaseException | None) -> None:
        current = self._status
        if state is current.state and (error is None or error is current.error):
            return
        self._status = SourceStatus(state, self._clock(), error or current.error)
        self._statuses.publish(self._status)

    def _custom_changed(self) -> None:
        self._custom_hash = (
            config_hash(tp for tp, _ in self._custom.values()) if self._custom else None
        )
        self._publish_effective(self._clock())

    def _publish_effective(self, ts: int) -> None:
        if self._custom_hash is None:
            new_hash, new_config = self._server_hash, self._server
        else:
            new_hash = effective_hash(self._server_hash, self._custom_hash)
            new_config = self._server + tuple(item for _, item in self._custom.values())
        if new_hash == self._hash:
            return
        change = new_change((ts, self._hash, new_hash, self._config, new_config))
        self._hash, self._config = new_hash, new_config
        if observers := self._changes.observers:
            self._deliver((observers, change, self._on_observer_error))

    def _subscribe_with_current(
        self, observer: abc.ObserverBase[ConfigChange], _: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        return self._changes.subscribe_with(observer, self._current_change)

    def _current_change(self) -> ConfigChange:
        return ConfigChange(self._last_update, None, self._hash, (), self._config)

    def _report(self, observer: abc.ObserverBase[Any], error: Exception, event: object) -> None:
        self.report_error(_described(observer), error, event)

    @staticmethod
    def _log_only(observer: abc.ObserverBase[Any], error: Exception, event: object) -> None:
        logger.error(
            "errors observer %r raised on %s", _described(observer), _summary(event), exc_info=error
        )
