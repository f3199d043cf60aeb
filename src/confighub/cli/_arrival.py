"""How the demo's acts wait for what other threads do: a bound, and a poll for what has no event.

Each act waits for its changes to arrive on a condition the observers notify;
what a server reports only through its state (a file refused, agents converged)
is polled for instead, which a demo can afford. Either way ``ARRIVAL_TIMEOUT``
bounds the wait, so a demo that goes wrong still ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

__all__ = ["ARRIVAL_TIMEOUT", "until"]

ARRIVAL_TIMEOUT: Final = 5.0
"""Seconds the demo waits at most for anything it expects."""


def until(condition: Callable[[], bool]) -> None:
    """Return once ``condition()`` holds, or after ``ARRIVAL_TIMEOUT`` seconds."""
    deadline = time.monotonic() + ARRIVAL_TIMEOUT
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
