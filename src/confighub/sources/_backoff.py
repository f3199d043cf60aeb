"""Exponential backoff with jitter and a cap: how long a source waits before retrying.

The *ceiling* of the n-th consecutive failure is ``initial * multiplier**n``,
capped at ``maximum``; the delay is drawn from the top ``jitter`` fraction of
that ceiling, so ``jitter=1`` is "full jitter" (anywhere in ``(0, ceiling]``)
and ``jitter=0`` a fixed schedule. Full jitter spreads the retries of many
clients that lost the same server at the same moment, so that they do not come
back in lock-step when it returns.
"""

from __future__ import annotations

import random

__all__ = ["Backoff"]


class Backoff:
    """Delays for consecutive failures; ``reset()`` after a success starts over.

    Not thread-safe: one polling thread owns it. ``rng`` makes the jitter
    reproducible in tests.
    """

    def __init__(
        self,
        initial: float = 0.5,
        maximum: float = 30.0,
        multiplier: float = 2.0,
        jitter: float = 1.0,
        *,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < initial <= maximum:
            raise ValueError(f"backoff needs 0 < initial <= maximum, got {initial} and {maximum}")
        if multiplier < 1:
            raise ValueError(f"backoff multiplier must be >= 1, got {multiplier}")
        if not 0 <= jitter <= 1:
            raise ValueError(f"backoff jitter must be between 0 and 1, got {jitter}")
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self.jitter = jitter
        self._random = (rng or random.Random()).random
        self._ceiling = initial
        self._failures = 0

    @property
    def failures(self) -> int:
        """How many delays were handed out since the last reset."""
        return self._failures

    @property
    def ceiling(self) -> float:
        """The largest delay the next failure can get."""
        return self._ceiling

    def next_delay(self) -> float:
        """The delay after one more failure: jittered below the ceiling, which then grows."""
        delay = self._jittered(self._ceiling)
        self._failures += 1
        # Multiplying the previous ceiling (rather than raising to the n-th power) cannot
        # overflow however long an outage lasts.
        self._ceiling = min(self.maximum, self._ceiling * self.multiplier)
        return delay

    def at_cap(self) -> float:
        """A delay of at least ``maximum``, for failures that retrying sooner cannot fix.

        The jitter is added above the cap rather than taken below it, so a
        client that the server refuses never comes back faster than the cap.
        """
        self._failures += 1
        return self.maximum * (1 + self.jitter * self._random())

    def reset(self) -> None:
        """Start over from ``initial``: the last attempt succeeded."""
        self._ceiling = self.initial
        self._failures = 0

    def __repr__(self) -> str:
        return (
            f"Backoff(initial={self.initial}, maximum={self.maximum},"
            f" multiplier={self.multiplier}, jitter={self.jitter}, failures={self._failures})"
        )

    def _jittered(self, ceiling: float) -> float:
        # random() is in [0, 1), so the delay is in (ceiling * (1 - jitter), ceiling]: never 0.
        return ceiling * (1 - self.jitter * self._random())
