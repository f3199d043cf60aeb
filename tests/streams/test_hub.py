"""ConfigHub: publication, order, isolation, custom tracepoints, status, close."""

from __future__ import annotations

import functools
import itertools
import logging
import threading
from typing import Any

import pytest
from reactivex import operators as ops
from reactivex.scheduler import EventLoopScheduler

from confighub import (
    ConfigChange,
    ConfigHub,
    HubClosed,
    InvalidTracePoint,
    ObserverError,
    SourceState,
    SourceStatus,
    TracePoint,
    config_hash,
)
from tests.support.chains import size


def tp(tp_id: str, line: int = 1, **args: str) -> TracePoint:
    return TracePoint(tp_id, "app/mod.py", line, args)


def serve(hub: ConfigHub, ts: int, *tracepoints: TracePoint) -> str:
    digest = config_hash(tracepoints)
    hub.update_new_config(ts, digest, tracepoints)
    return digest


def collect(hub: ConfigHub) -> list[ConfigChange]:
    seen: list[ConfigChange] = []
    hub.changes.subscribe(seen.append)
    return seen


def assert_chained(events: list[ConfigChange]) -> None:
    for a, b in itertools.pairwise(events):
        assert (b.old_hash, b.old) == (a.new_hash, a.new)


def test_update_publishes_a_change_that_unpacks() -> None:
    """A new config publishes (ts, old_hash, new_hash, old, new) with tuples of items."""
    hub = ConfigHub()
    seen = collect(hub)
    a = tp("a")
    digest = serve(hub, 10, a)
    ts, old_hash, new_hash, old, new = seen[0]
    assert (ts, old_hash, new_hash, old, new) == (10, None, digest, (), (a,))
    assert seen[0].diff.added == {"a": a}
    assert hub.current_config == (a,)
    assert hub.current_hash == digest == hub.server_hash
    assert hub.last_update == 10
    assert repr(hub) == f"<ConfigHub valid hash={digest} items=1 custom=0>"


def test_unchanged_hash_is_a_heartbeat_not_a_change() -> None:
    """An update with the current hash publishes no change but counts as a heartbeat."""
    hub = ConfigHub()
    seen = collect(hub)
    beats: list[int] = []
    hub.heartbeats.subscribe(beats.append)
    serve(hub, 1, tp("a"))
    serve(hub, 2, tp("a"))
    hub.update_no_change(3)
    assert len(seen) == 1
    assert beats == [1, 2, 3]
    assert hub.last_update == 3


def test_consecutive_changes_are_chained() -> None:
    """Each change starts where the previous one ended, hashes and configs alike."""
    hub = ConfigHub()
    seen = collect(hub)
    serve(hub, 1, tp("a"))
    serve(hub, 2, tp("a"), tp("b"))
    serve(hub, 3, tp("b", fire_count="5"))
    serve(hub, 4)
    assert len(seen) == 4
    assert_chained(seen)
    assert seen[2].diff.removed.keys() == {"a"}
    assert seen[2].diff.changed.keys() == {"b"}
    assert seen[-1].new == ()


def test_subscriber_sees_only_later_changes() -> None:
    """A subscriber gets exactly the changes published after it subscribed."""
    hub = ConfigHub()
    serve(hub, 1, tp("a"))
    seen = collect(hub)
    serve(hub, 2, tp("b"))
    assert [c.ts for c in seen] == [2]


def test_changes_with_current_starts_from_the_current_config() -> None:
    """changes_with_current() first gives the current config from None, then live changes."""
    hub = ConfigHub()
    digest = serve(hub, 5, tp("a"))
    seen: list[ConfigChange] = []
    hub.changes_with_current().subscribe(seen.append)
    serve(hub, 6, tp("b"))
    assert seen[0] == ConfigChange(5, None, digest, (), (tp("a"),))
    assert_chained(seen)
    assert len(seen) == 2


def test_changes_with_current_has_no_gap_while_another_thread_publishes() -> None:
    """Subscribing while a thread publishes gives a chain with no gap and no duplicate."""
    hub = ConfigHub()
    serve(hub, 0, tp("t0"))
    stop = threading.Event()

    def publish() -> None:
        n = 1
        while not stop.is_set():
            serve(hub, n, tp(f"t{n}"))
            n += 1

    publisher = threading.Thread(target=publish)
    publisher.start()
    try:
        streams: list[list[ConfigChange]] = []
        for _ in range(50):
            seen: list[ConfigChange] = []
            hub.changes_with_current().subscribe(seen.append)
            streams.append(seen)
    finally:
        stop.set()
        publisher.join()
    for seen in streams:
        assert seen[0].old_hash is None
        assert_chained(seen)
        assert seen[-1].new_hash == hub.current_hash


def test_disposed_subscriber_gets_nothing_more() -> None:
    """Disposing a subscription stops delivery to it and only to it."""
    hub = ConfigHub()
    first: list[ConfigChange] = []
    subscription = hub.changes.subscribe(first.append)
    second = collect(hub)
    serve(hub, 1, tp("a"))
    subscription.dispose()
    serve(hub, 2, tp("b"))
    assert len(first) == 1
    assert len(second) == 2


def test_raising_observer_is_isolated_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    """An observer that raises never stops the others nor reaches the publisher; it is reported."""
    hub = ConfigHub()
    before = collect(hub)

    def explode(change: ConfigChange) -> None:
        raise RuntimeError(f"boom at {change.ts}")

    hub.changes.subscribe(explode)
    after = collect(hub)
    errors: list[ObserverError] = []
    hub.errors.subscribe(errors.append)
    with caplog.at_level(logging.ERROR, logger="confighub"):
        first = serve(hub, 1, tp("a"))
        serve(hub, 2, tp("b"))
    assert len(before) == len(after) == 2
    assert [str(e.error) for e in errors] == ["boom at 1", "boom at 2"]
    assert errors[0].observer is explode
    assert isinstance(errors[0].event, ConfigChange)
    assert "boom at 1" in caplog.text
    assert f"raised on ConfigChange(ts=1, None -> {first}, 0 -> 1 items)" in caplog.text


def test_raising_errors_observer_is_only_logged(caplog: pytest.LogCaptureFixture) -> None:
    """An errors observer that raises is logged, not re-reported in a loop."""
    hub = ConfigHub()

    def divide(_: ConfigChange) -> None:
        print(1 / 0)

    hub.changes.subscribe(divide)
    calls: list[ObserverError] = []

    def bad(error: ObserverError) -> None:
        calls.append(error)
        raise ValueError("errors observer broke")

    hub.errors.subscribe(bad)
    with caplog.at_level(logging.ERROR, logger="confighub"):
        serve(hub, 1, tp("a"))
    assert len(calls) == 1
    assert "errors observer broke" in caplog.text


def test_publishing_from_an_observer_keeps_order_for_everyone() -> None:
    """A change published from inside an observer reaches everyone after the current one."""
    hub = ConfigHub()
    depth = 0
    log: list[tuple[str, int]] = []

    def make(name: str) -> Any:
        def observer(change: ConfigChange) -> None:
            nonlocal depth
            depth += 1
            assert depth == 1, "two events delivered at once"
            log.append((name, change.ts))
            if name == "first" and change.ts == 1:
                serve(hub, 2, tp("b"))
            depth -= 1

        return observer

    hub.changes.subscribe(make("first"))
    hub.changes.subscribe(make("second"))
    serve(hub, 1, tp("a"))
    assert log == [("first", 1), ("second", 1), ("first", 2), ("second", 2)]


def test_eight_publishing_threads_lose_and_reorder_nothing() -> None:
    """8 threads publishing at once: every change delivered once, chained, one at a time."""
    hub = ConfigHub()
    per_thread, threads = 400, 8
    seen: list[ConfigChange] = []
    busy = threading.Lock()
    overlaps = 0

    def observer(change: ConfigChange) -> None:
        nonlocal overlaps
        if not busy.acquire(blocking=False):
            overlaps += 1
            return
        seen.append(change)
        busy.release()

    hub.changes.subscribe(observer)
    also: list[ConfigChange] = []
    hub.changes.subscribe(also.append)
    start = threading.Barrier(threads)

    def publish(worker: int) -> None:
        start.wait()
        for n in range(per_thread):
            hub.update_new_config(n, f"w{worker}-{n}", (f"w{worker}-{n}",))

    pool = [threading.Thread(target=publish, args=(w,)) for w in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert overlaps == 0
    assert len(seen) == per_thread * threads
    assert seen == also
    assert_chained(seen)
    assert seen[-1].new_hash == hub.current_hash
    for worker in range(threads):
        mine = [c.new_hash for c in seen if c.new_hash and c.new_hash.startswith(f"w{worker}-")]
        assert mine == [f"w{worker}-{n}" for n in range(per_thread)]


def test_custom_tracepoints_change_the_effective_hash() -> None:
    """Custom tracepoints publish effective-hash changes; without any it is the server's hash."""
    clock = iter(range(100, 200))
    hub = ConfigHub(clock=lambda: next(clock))
    seen = collect(hub)
    server = serve(hub, 1, tp("a"))
    custom_id = hub.add_custom("app/other.py", 7, {"fire_count": "-1"}, ["x"])
    assert hub.server_hash == server
    assert hub.current_hash != server
    custom = hub.current_config[-1]
    assert isinstance(custom, TracePoint)
    assert (custom.id, custom.line, custom.fire_count, custom.watches) == (custom_id, 7, -1, ("x",))
    assert seen[-1].diff.added == {custom_id: custom}
    serve(hub, 2, tp("a"), tp("b"))
    assert hub.current_config[-1] == custom
    assert hub.remove_custom(custom_id) is True
    assert hub.remove_custom(custom_id) is False
    assert hub.current_hash == hub.server_hash
    assert len(seen) == 4
    assert_chained(seen)
    assert seen[1].ts > 1


def test_custom_factory_builds_the_items() -> None:
    """A factory turns add_custom input into the hub's item type."""
    built: list[tuple[Any, ...]] = []

    def factory(*args: Any) -> str:
        built.append(args)
        return f"item:{args[0]}"

    hub = ConfigHub(custom_factory=factory)
    tp_id = hub.add_custom("app/x.py", 3, {"log_msg": "hi"}, ["a"], [])
    assert hub.current_config == (f"item:{tp_id}",)
    assert built == [(tp_id, "app/x.py", 3, {"log_msg": "hi"}, ["a"], [])]


def test_invalid_custom_tracepoint_changes_nothing() -> None:
    """A bad custom tracepoint raises InvalidTracePoint and leaves config and stream untouched."""
    hub = ConfigHub()
    seen = collect(hub)
    with pytest.raises(InvalidTracePoint) as raised:
        hub.add_custom("app/x.py", 3, {"stage": "sometimes"})
    assert raised.value.field == "args.stage"
    assert seen == []
    assert hub.current_config == ()


def test_status_is_replayed_and_follows_the_source() -> None:
    """Status starts INITIALIZING, turns VALID on a poll, keeps the error, ends OFF."""
    hub = ConfigHub()
    early: list[SourceStatus] = []
    hub.status.subscribe(early.append)
    hub.update_no_change(1)
    failure = ConnectionError("server went away")
    hub.set_status(SourceState.INTERRUPTED, failure)
    hub.update_no_change(2)
    late: list[SourceStatus] = []
    hub.status.subscribe(late.append)
    hub.close()
    assert [s.state for s in early] == [
        SourceState.INITIALIZING,
        SourceState.VALID,
        SourceState.INTERRUPTED,
        SourceState.VALID,
        SourceState.OFF,
    ]
    assert early[2].error is failure
    assert early[3].error is failure
    assert [s.state for s in late] == [SourceState.VALID, SourceState.OFF]


def test_close_completes_streams_and_refuses_updates() -> None:
    """close() completes subscribers; updates then raise HubClosed; late subscribers get the end."""
    completed: list[str] = []
    with ConfigHub() as hub:
        for name, stream in [
            ("changes", hub.changes),
            ("heartbeats", hub.heartbeats),
            ("status", hub.status),
            ("errors", hub.errors),
        ]:
            stream.subscribe(on_completed=functools.partial(completed.append, name))
    assert sorted(completed) == ["changes", "errors", "heartbeats", "status"]
    hub.close()
    for update in (
        lambda: hub.update_no_change(1),
        lambda: hub.update_new_config(1, "h", ()),
        lambda: hub.add_custom("a.py", 1),
        lambda: hub.remove_custom("x"),
        lambda: hub.set_status(SourceState.VALID),
    ):
        with pytest.raises(HubClosed, match="closed"):
            update()
    late: list[str] = []
    hub.changes.subscribe(on_completed=lambda: late.append("done"))
    assert late == ["done"]
    final: list[object] = []
    hub.status.subscribe(final.append, on_completed=lambda: final.append("done"))
    hub.changes_with_current().subscribe(final.append, on_completed=lambda: final.append("done"))
    assert [getattr(item, "state", item) for item in final] == [
        SourceState.OFF,
        "done",
        ConfigChange(0, None, None, (), ()),
        "done",
    ]


def test_rx_operators_compose_on_changes() -> None:
    """Changes is a real rx Observable: operators such as map and filter compose on it."""
    hub = ConfigHub()
    sizes: list[int] = []

    def several(count: int) -> bool:
        return count > 1

    hub.changes.pipe(ops.map(size), ops.filter(several)).subscribe(sizes.append)
    serve(hub, 1, tp("a"))
    serve(hub, 2, tp("a"), tp("b"))
    serve(hub, 3, tp("a"), tp("b"), tp("c"))
    assert sizes == [2, 3]


def test_subscribing_from_inside_an_observer_starts_after_the_current_event() -> None:
    """A subscription made while an event is delivered gets the current config, then later ones."""
    hub = ConfigHub()
    late: list[ConfigChange] = []

    def subscribe_once(change: ConfigChange) -> None:
        if change.ts == 1:
            hub.changes_with_current().subscribe(late.append)

    hub.changes.subscribe(subscribe_once)
    first = serve(hub, 1, tp("a"))
    serve(hub, 2, tp("b"))
    assert [c.ts for c in late] == [1, 2]
    assert late[0].new_hash == first
    assert_chained(late)


def test_off_thread_delivery_is_opt_in_per_subscriber() -> None:
    """observe_on moves one subscriber off the publishing thread, in order; others stay inline."""
    hub = ConfigHub()
    scheduler = EventLoopScheduler()
    inline_threads: set[int] = set()
    off: list[int] = []
    off_threads: set[int] = set()
    done = threading.Event()

    def on_off_thread(change: ConfigChange) -> None:
        off_threads.add(threading.get_ident())
        off.append(change.ts)
        if change.ts == 200:
            done.set()

    hub.changes.subscribe(lambda _: inline_threads.add(threading.get_ident()))
    hub.changes.pipe(ops.observe_on(scheduler)).subscribe(on_off_thread)
    for n in range(1, 201):
        hub.update_new_config(n, f"h{n}", (n,))
    assert done.wait(10)
    scheduler.dispose()
    assert inline_threads == {threading.get_ident()}
    assert threading.get_ident() not in off_threads
    assert off == list(range(1, 201))
