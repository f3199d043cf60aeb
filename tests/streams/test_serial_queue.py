"""The one in-order delivery loop: every item once, one at a time, in order, from any thread."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from confighub._internal.serial import SerialQueue
from tests.support.waiting import TIMEOUT, wait_until

THREADS = 8
ITEMS = 5_000


class Consumer:
    """Delivered items in order, and a check that no two deliveries ever overlap."""

    def __init__(self) -> None:
        self.items: list[tuple[int, int]] = []
        self.inside = 0
        self.overlaps = 0
        self._count = threading.Lock()

    def __call__(self, item: tuple[int, int]) -> None:
        with self._count:
            self.inside += 1
            overlapping = self.inside > 1
        if overlapping:
            self.overlaps += 1
        self.items.append(item)
        with self._count:
            self.inside -= 1


def check(consumer: Consumer) -> None:
    """Every item exactly once, and each thread's items in the order it put them."""
    assert consumer.overlaps == 0
    assert sorted(consumer.items) == [(t, n) for t in range(THREADS) for n in range(ITEMS)]
    for thread in range(THREADS):
        mine = [n for t, n in consumer.items if t == thread]
        assert mine == list(range(ITEMS))


@pytest.fixture
def eager_switching() -> Iterator[None]:
    """Threads switch every microsecond, so that races between them happen in the test."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


@pytest.mark.usefixtures("eager_switching")
@pytest.mark.parametrize("mode", ["submit", "put-then-drain"])
def test_items_from_many_threads_arrive_once_in_order_one_at_a_time(mode: str) -> None:
    """Whoever finds the queue idle drains it; nothing is lost, repeated or overlapped."""
    consumer = Consumer()
    queue: SerialQueue[tuple[int, int]] = SerialQueue(consumer)
    start = threading.Barrier(THREADS)

    def produce(thread: int) -> None:
        start.wait()
        for n in range(ITEMS):
            if mode == "submit":
                queue.submit((thread, n))
            else:
                queue.put((thread, n))
                queue.drain()

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(produce, range(THREADS)))
    check(consumer)


def test_an_item_put_from_inside_a_delivery_comes_right_after_it() -> None:
    """A nested submit is queued, not delivered inside the delivery that made it."""
    seen: list[str] = []

    def deliver(item: str) -> None:
        seen.append(f"start {item}")
        if item == "a":
            queue.submit("b")
        seen.append(f"end {item}")

    queue: SerialQueue[str] = SerialQueue(deliver)

    queue.submit("a")
    queue.submit("c")
    assert seen == ["start a", "end a", "start b", "end b", "start c", "end c"]


def test_a_serialized_queue_orders_nested_submits_the_same_way() -> None:
    """With serialized=True (callers hold the owner's lock) a nested submit also waits its turn."""
    seen: list[str] = []

    def deliver(item: str) -> None:
        seen.append(item)
        if item == "a":
            queue.submit("b")
            seen.append("a done")

    queue: SerialQueue[str] = SerialQueue(deliver, serialized=True)

    queue.submit("a")
    assert seen == ["a", "a done", "b"]


def test_a_claimed_drain_runs_on_another_thread_and_takes_what_comes_meanwhile() -> None:
    """While claimed, drain leaves items to the claim's holder, which delivers them in order."""
    seen: list[int] = []
    release = threading.Event()
    queue: SerialQueue[int] = SerialQueue(seen.append)
    queue.put(1)
    assert queue.claim()
    assert queue.claimed()
    assert not queue.claim()
    queue.put(2)
    queue.drain()  # claimed elsewhere: leaves both items
    assert seen == []

    def later() -> None:
        release.wait(TIMEOUT)
        queue.run_claimed()

    worker = threading.Thread(target=later)
    worker.start()
    queue.submit(3)  # still claimed: queued behind 1 and 2
    release.set()
    worker.join(TIMEOUT)
    wait_until(lambda: not queue.claimed(), "the claim to be released")
    assert seen == [1, 2, 3]


@pytest.mark.parametrize("serialized", [False, True])
def test_a_delivery_that_raises_leaves_the_rest_for_the_next_submit(serialized: bool) -> None:
    """The exception reaches the drainer; what is still queued goes out next, before the new."""
    seen: list[int] = []

    def deliver(item: int) -> None:
        if item == 1:
            queue.submit(2)
            raise KeyboardInterrupt
        seen.append(item)

    queue: SerialQueue[int] = SerialQueue(deliver, serialized=serialized)
    with pytest.raises(KeyboardInterrupt):
        queue.submit(1)
    assert seen == []
    queue.submit(3)
    assert seen == [2, 3]
