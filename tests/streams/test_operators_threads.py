"""The operators with real threads: no thread per event, a publisher that never waits."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from confighub import ConfigChange, ConfigHub, TracePoint, config_hash
from confighub.operators import conflate, debounce_changes
from confighub.testing import assert_chain
from tests.support.threads import alive, started_since
from tests.support.waiting import TIMEOUT


def configs(count: int) -> Iterator[tuple[TracePoint, ...]]:
    for n in range(count):
        yield (TracePoint("checkout", "shop/checkout.py", n + 1),)


def publish(hub: ConfigHub, count: int) -> tuple[TracePoint, ...]:
    config: tuple[TracePoint, ...] = ()
    for n, config in enumerate(configs(count)):
        hub.update_new_config(n + 1, config_hash(config), config)
    return config


@pytest.fixture
def started_threads(monkeypatch: pytest.MonkeyPatch) -> list[threading.Thread]:
    """Every thread started while the test runs."""
    started: list[threading.Thread] = []
    original = threading.Thread.start

    def start(self: threading.Thread) -> None:
        started.append(self)
        original(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    return started


def test_debounce_starts_no_thread_per_event(started_threads: list[threading.Thread]) -> None:
    """A 5,000-event burst on the default scheduler starts at most the one shared timer thread."""
    hub = ConfigHub()
    seen: list[ConfigChange] = []
    done = threading.Event()

    def on_change(change: ConfigChange) -> None:
        seen.append(change)
        done.set()

    hub.changes.pipe(debounce_changes(0.05)).subscribe(on_change)
    final = publish(hub, 5_000)
    assert done.wait(TIMEOUT)
    assert len(started_threads) <= 1
    assert [(c.old_hash, c.new) for c in seen] == [(None, final)]


def test_conflate_never_blocks_the_publisher_behind_a_slow_observer() -> None:
    """While the observer is stuck, 2,000 updates publish; it then sees few events, ending last."""
    hub = ConfigHub()
    entered, release, finished = threading.Event(), threading.Event(), threading.Event()
    seen: list[ConfigChange] = []

    def slow(change: ConfigChange) -> None:
        entered.set()
        release.wait(TIMEOUT)
        seen.append(change)

    hub.changes.pipe(conflate()).subscribe(slow, on_completed=finished.set)
    publish(hub, 1)
    assert entered.wait(TIMEOUT)
    # The observer is blocked; if conflate waited for it, this would not return.
    final = publish(hub, 2_000)
    release.set()
    hub.close()
    assert finished.wait(TIMEOUT)
    assert len(seen) == 2
    assert seen[-1].new == final
    assert_chain(seen)


def test_conflate_default_thread_ends_with_the_stream() -> None:
    """The thread conflate starts for a subscription is gone once the stream completes."""
    before = alive()
    hub = ConfigHub()
    finished = threading.Event()
    hub.changes.pipe(conflate()).subscribe(lambda _: None, on_completed=finished.set)
    publish(hub, 10)
    hub.close()
    assert finished.wait(TIMEOUT)
    for thread in started_since(before):
        thread.join(TIMEOUT)
        assert not thread.is_alive(), thread


def test_iter_changes_delivers_changes_published_from_another_thread_in_order() -> None:
    """An `async for` sees every change from a publishing thread, in order, then ends on close."""
    hub = ConfigHub()

    async def consume() -> list[ConfigChange]:
        changes = hub.iter_changes()

        def produce() -> None:
            publish(hub, 50)
            hub.close()

        publisher = threading.Thread(target=produce)
        publisher.start()
        seen = [change async for change in changes]
        publisher.join()
        return seen

    seen = asyncio.run(consume())
    assert len(seen) == 50
    assert_chain(seen)


def test_iter_changes_with_current_starts_from_the_current_config() -> None:
    """with_current=True first yields the current config as a change from None."""
    hub = ConfigHub()
    final = publish(hub, 3)

    async def first() -> ConfigChange:
        async with hub.iter_changes(with_current=True) as changes:
            return await anext(changes)

    change = asyncio.run(first())
    assert (change.old_hash, change.new) == (None, final)
    assert not hub._changes.observers


def test_cancelling_iter_changes_unsubscribes() -> None:
    """Cancelling the task waiting in async for removes its subscription from the hub."""
    hub = ConfigHub()

    async def cancel() -> None:
        waiting = asyncio.Event()

        async def consume() -> None:
            changes = hub.iter_changes()
            waiting.set()
            async for _ in changes:
                pass

        task = asyncio.create_task(consume())
        await waiting.wait()
        await asyncio.sleep(0)
        assert hub._changes.observers
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel())
    assert not hub._changes.observers


def test_iter_changes_of_a_closed_hub_ends_at_once() -> None:
    """A hub closed before iterating ends the async for without an event."""
    hub = ConfigHub()
    hub.close()

    async def drain() -> list[ConfigChange]:
        return [change async for change in hub.iter_changes()]

    assert asyncio.run(drain()) == []
