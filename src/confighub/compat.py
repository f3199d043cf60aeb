"""Deep's tracepoint config service API, as a drop-in backed by a ``ConfigHub``.

The Deep Python agent takes its tracepoint config service as
``ConfigService(..., tracepoints=...)``; an instance of
``TracepointConfigService`` from here fits there. Its listeners get what the
original gives them (the server config followed by the custom tracepoints,
as the agent's own trigger objects) and its ``.hub`` is the reactive side.

Unlike the original, updates never reach listeners out of order: without a
task handler they are delivered on the polling thread; with one
(``set_task_handler``), one task at a time drains the updates in order, so a
handler with several worker threads cannot reorder them.
"""

from __future__ import annotations

import abc
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any, Protocol

from confighub._internal.serial import SerialQueue
from confighub.events import ConfigChange, Item
from confighub.hub import ConfigHub, CustomFactory

__all__ = ["ConfigUpdateListener", "TaskHandler", "TracepointConfigService"]

logger = logging.getLogger("confighub.compat")

_Update = tuple[int, str | None, str | None, list[Item], list[Item]]


class ConfigUpdateListener(Protocol):
    """Deep's listener interface: told of every change of the tracepoint config.

    Subclass it (``config_change`` is abstract), or pass any object with a
    matching ``config_change``, such as the Deep agent's own listeners.
    """

    @abc.abstractmethod
    def config_change(
        self,
        ts: int,
        old_hash: str | None,
        current_hash: str | None,
        old_config: list[Item],
        new_config: list[Item],
    ) -> None:
        """Handle a change from ``old_config`` to ``new_config`` (server then custom items)."""


class TaskHandler(Protocol):
    """What ``set_task_handler`` accepts, as Deep's ``TaskHandler`` provides it."""

    def submit_task(self, task: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run ``task(*args)`` on another thread."""
        ...


def _deep_trigger_factory() -> CustomFactory | None:
    # The agent's own builder makes custom tracepoints that its trigger handler can run.
    try:
        from deep.api.tracepoint.trigger import build_trigger  # noqa: PLC0415
    except ImportError:
        return None
    factory: CustomFactory = build_trigger
    return factory


class TracepointConfigService:
    """Deep's ``TracepointConfigService`` names and behaviour, in order, on a ``ConfigHub``.

    ``hub`` defaults to a new ``ConfigHub``. ``trigger_factory`` builds the
    item for ``add_custom`` from ``(id, path, line, args, watches, metrics)``;
    by default the Deep agent's ``build_trigger`` when the agent is installed,
    else a confighub ``TracePoint``.
    """

    def __init__(
        self, hub: ConfigHub | None = None, trigger_factory: CustomFactory | None = None
    ) -> None:
        self.hub = hub if hub is not None else ConfigHub()
        self._factory = trigger_factory if trigger_factory is not None else _deep_trigger_factory()
        self._listeners: tuple[ConfigUpdateListener, ...] = ()
        self._task_handler: TaskHandler | None = None
        self._lock = threading.Lock()
        self._updates: SerialQueue[_Update] = SerialQueue(self._deliver)
        self.hub.changes.subscribe(on_next=self._on_change)

    # -- Deep's names ----------------------------------------------------------------------

    def update_no_change(self, ts: int) -> None:
        """A poll found the config unchanged."""
        self.hub.update_no_change(ts)

    def update_new_config(self, ts: int, new_hash: str, new_config: Iterable[Item]) -> None:
        """A poll returned a new config; listeners hear of it unless the hash is unchanged."""
        self.hub.update_new_config(ts, new_hash, new_config)

    def set_task_handler(self, task_handler: TaskHandler | None) -> None:
        """Run listeners through ``task_handler.submit_task`` (in order) instead of inline."""
        with self._lock:
            self._task_handler = task_handler

    def add_listener(self, listener: ConfigUpdateListener) -> None:
        """Tell ``listener`` of every later change."""
        with self._lock:
            self._listeners = (*self._listeners, listener)

    def update_listeners(
        self,
        ts: int,
        old_hash: str | None,
        current_hash: str | None,
        old_config: list[Item],
        new_config: list[Item],
    ) -> None:
        """Call every listener with one change; a listener that raises is logged and skipped."""
        self._deliver((ts, old_hash, current_hash, old_config, new_config))

    @property
    def current_config(self) -> list[Item]:
        """The config the server sent last, without custom tracepoints."""
        return list(self.hub.server_config)

    @property
    def current_hash(self) -> str | None:
        """The server's hash, which the agent sends back when it polls."""
        return self.hub.server_hash

    def add_custom(
        self,
        path: str,
        line: int,
        args: Mapping[str, str],
        watches: Sequence[str],
        metrics: Sequence[Any],
    ) -> str:
        """Add a tracepoint from code; returns the id that ``remove_custom`` takes."""
        return self.hub.add_custom(path, line, args, watches, metrics, factory=self._factory)

    def remove_custom(self, _id: str) -> bool:
        """Remove a custom tracepoint; False when the id is unknown."""
        return self.hub.remove_custom(_id)

    # -- dispatch --------------------------------------------------------------------------

    def _on_change(self, change: ConfigChange) -> None:
        ts, old_hash, new_hash, old, new = change
        updates = self._updates
        update = (ts, old_hash, new_hash, list(old), list(new))
        handler = self._task_handler
        if handler is None:
            if updates.claimed():
                updates.put(update)  # a handler's drain is still running: behind it
                updates.drain()
            else:
                # The hub calls this one change at a time, and only this method claims the
                # queue, so with none claimed the update can go out at once, in order.
                self._deliver(update)
            return
        updates.put(update)
        if not updates.claim():
            return  # a drain runs or is on its way, and delivers this update too
        try:
            handler.submit_task(updates.run_claimed)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            logger.warning("task handler refused the update (%r); delivering it inline", exc)
            updates.run_claimed()

    def _deliver(self, update: _Update) -> None:
        ts, old_hash, current_hash, old_config, new_config = update
        for listener in self._listeners:
            try:
                listener.config_change(ts, old_hash, current_hash, old_config, new_config)
            except Exception as exc:
                self.hub.report_error(listener, exc, update[:3])
