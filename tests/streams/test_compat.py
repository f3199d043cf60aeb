"""compat: Deep's TracepointConfigService names and behaviour, never reordering."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from confighub import ConfigHub, ObserverError, TracePoint, config_hash
from confighub.compat import ConfigUpdateListener, TracepointConfigService

Call = tuple[int, str | None, str | None, list[Any], list[Any]]


class Recorder(ConfigUpdateListener):
    def __init__(self) -> None:
        self.calls: list[Call] = []

    def config_change(
        self,
        ts: int,
        old_hash: str | None,
        current_hash: str | None,
        old_config: list[Any],
        new_config: list[Any],
    ) -> None:
        self.calls.append((ts, old_hash, current_hash, old_config, new_config))


class Broken(ConfigUpdateListener):
    def config_change(self, *args: Any) -> None:
        raise RuntimeError("listener broke")


class PoolHandler:
    """A task handler like Deep's: a thread pool with several workers."""

    def __init__(self, workers: int = 4) -> None:
        self.pool = ThreadPoolExecutor(max_workers=workers)
        self.submitted = 0

    def submit_task(self, task: Callable[..., Any], *args: Any) -> Future[Any]:
        self.submitted += 1
        return self.pool.submit(task, *args)


def tracepoint_factory(*args: Any) -> TracePoint:
    return TracePoint(*args)


def test_listener_gets_server_config_then_custom_tracepoints() -> None:
    """Listeners get (ts, old_hash, new_hash, old, new) lists, server items first, then custom."""
    service = TracepointConfigService(trigger_factory=tracepoint_factory)
    listener = Recorder()
    service.add_listener(listener)
    server = [TracePoint("a", "a.py", 1)]
    digest = config_hash(server)
    service.update_new_config(5, digest, server)
    custom_id = service.add_custom("b.py", 2, {}, [], [])
    assert listener.calls[0] == (5, None, digest, [], server)
    _, old_hash, new_hash, old, new = listener.calls[1]
    assert (old_hash, old) == (digest, server)
    assert [tp.id for tp in new] == ["a", custom_id]
    assert new_hash == service.hub.current_hash != digest
    assert service.current_hash == digest
    assert service.current_config == server
    assert service.remove_custom(custom_id) is True
    assert listener.calls[-1][2] == digest


def test_no_change_and_equal_hash_do_not_call_listeners() -> None:
    """update_no_change and an update with the current hash call no listener."""
    service = TracepointConfigService()
    listener = Recorder()
    service.add_listener(listener)
    service.update_new_config(1, "h1", ["x"])
    service.update_no_change(2)
    service.update_new_config(3, "h1", ["x"])
    assert len(listener.calls) == 1
    assert service.hub.last_update == 3


def test_raising_listener_does_not_hurt_the_others() -> None:
    """A listener that raises is reported on hub.errors; the others still get every update."""
    service = TracepointConfigService()
    errors: list[ObserverError] = []
    service.hub.errors.subscribe(errors.append)
    first, second = Recorder(), Recorder()
    service.add_listener(first)
    service.add_listener(Broken())
    service.add_listener(second)
    service.update_new_config(1, "h1", ["x"])
    service.update_new_config(2, "h2", ["y"])
    assert len(first.calls) == len(second.calls) == 2
    assert [str(e.error) for e in errors] == ["listener broke"] * 2
    assert isinstance(errors[0].observer, Broken)


def test_task_handler_runs_listeners_off_thread_in_order() -> None:
    """With a multi-worker task handler, listeners run off the poller thread and in order."""
    service = TracepointConfigService()
    handler = PoolHandler(workers=4)
    service.set_task_handler(handler)
    threads: set[int] = set()
    seen: list[int] = []
    done = threading.Event()
    total = 2_000

    class Ordered(ConfigUpdateListener):
        def config_change(self, ts: int, *rest: Any) -> None:
            threads.add(threading.get_ident())
            seen.append(ts)
            if ts == total:
                done.set()

    service.add_listener(Ordered())
    for n in range(1, total + 1):
        service.update_new_config(n, f"h{n}", [n])
    assert done.wait(30)
    handler.pool.shutdown()
    assert seen == list(range(1, total + 1))
    assert threading.get_ident() not in threads
    assert handler.submitted <= total


def test_refusing_task_handler_falls_back_to_inline_delivery() -> None:
    """A task handler that refuses work (as Deep's does after flush) loses no update."""

    class Closed:
        def submit_task(self, task: Callable[..., Any], *args: Any) -> Future[Any]:
            raise RuntimeError("handler is closed")

    service = TracepointConfigService()
    service.set_task_handler(Closed())
    listener = Recorder()
    service.add_listener(listener)
    service.update_new_config(1, "h1", ["x"])
    service.update_new_config(2, "h2", ["y"])
    assert [call[0] for call in listener.calls] == [1, 2]


def test_shares_a_given_hub() -> None:
    """A service built on an existing hub publishes through it."""
    hub = ConfigHub()
    service = TracepointConfigService(hub=hub)
    assert service.hub is hub
    seen: list[Any] = []
    hub.changes.subscribe(seen.append)
    service.update_new_config(1, "h1", ["x"])
    assert len(seen) == 1


def test_default_factory_builds_deep_triggers_when_the_agent_is_installed() -> None:
    """Without a factory, custom tracepoints are the Deep agent's own Trigger objects."""
    from deep.api.tracepoint.trigger import Trigger

    service = TracepointConfigService()
    service.add_custom("shop.py", 9, {"fire_count": "3"}, ["x"], [])
    (item,) = service.hub.current_config
    assert isinstance(item, Trigger)
    assert (item.path, item.line) == ("shop.py", 9)


def test_a_listener_escaping_isolation_does_not_stall_later_updates() -> None:
    """A BaseException from a listener under a task handler leaves later updates flowing."""

    class IllegalState(BaseException):
        """Like Deep's IllegalStateException, which is not an Exception."""

    class Inline:
        def submit_task(self, task: Callable[..., Any], *args: Any) -> Future[Any]:
            future: Future[Any] = Future()
            try:
                future.set_result(task(*args))
            except IllegalState as exc:
                future.set_exception(exc)
            return future

    service = TracepointConfigService()
    service.set_task_handler(Inline())
    seen: list[int] = []

    class FailsOnce(ConfigUpdateListener):
        def config_change(self, ts: int, *rest: Any) -> None:
            seen.append(ts)
            if ts == 1:
                raise IllegalState

    service.add_listener(FailsOnce())
    service.update_new_config(1, "h1", ["x"])
    service.update_new_config(2, "h2", ["y"])
    service.update_new_config(3, "h3", ["z"])
    assert seen == [1, 2, 3]


def test_config_update_listener_is_abstract() -> None:
    """A ConfigUpdateListener subclass must implement config_change, as in Deep."""

    class Incomplete(ConfigUpdateListener):
        pass

    with pytest.raises(TypeError, match="config_change"):
        Incomplete()  # type: ignore[abstract]


def test_removing_the_task_handler_keeps_queued_updates_in_order() -> None:
    """Updates still queued for a task handler go out before those published after its removal."""

    class Deferred:
        def __init__(self) -> None:
            self.tasks: list[Callable[[], Any]] = []

        def submit_task(self, task: Callable[..., Any], *args: Any) -> Future[Any]:
            self.tasks.append(lambda: task(*args))
            return Future()

    service = TracepointConfigService()
    handler = Deferred()
    service.set_task_handler(handler)
    listener = Recorder()
    service.add_listener(listener)
    service.update_new_config(1, "h1", ["x"])
    service.update_new_config(2, "h2", ["y"])
    service.set_task_handler(None)
    service.update_new_config(3, "h3", ["z"])
    assert listener.calls == []
    (task,) = handler.tasks
    task()
    service.update_new_config(4, "h4", ["w"])
    assert [call[0] for call in listener.calls] == [1, 2, 3, 4]
