"""Waiting for what another thread does, with a timeout instead of a fixed sleep."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

import pytest

_T = TypeVar("_T")

TIMEOUT = 20.0
"""Generous on purpose: a slow CI machine must not fail a test that would pass."""

POLL_INTERVAL = 0.005
"""How often ``wait_until`` checks its condition: short, so a test waits little past the event."""


class Recorder(Generic[_T]):
    """An observer that keeps what it is given and lets a test wait for a condition on it."""

    def __init__(self) -> None:
        self.items: list[_T] = []
        self._changed = threading.Condition()

    def __call__(self, item: _T) -> None:
        with self._changed:
            self.items.append(item)
            self._changed.notify_all()

    def wait_for(
        self, predicate: Callable[[list[_T]], bool], what: str, timeout: float = TIMEOUT
    ) -> list[_T]:
        """Block until ``predicate(items)`` holds and return a copy of them; fail on timeout."""
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self.items), timeout):
                pytest.fail(f"timed out waiting for {what}; got {self.items!r}")
            return list(self.items)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    """Poll ``condition`` until it holds (for state no stream announces); fail on timeout."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(POLL_INTERVAL)
