"""How long a source waits to poll again: ``Backoff`` after failures, ``Pacing`` after answers.

The backoff *ceiling* of the n-th consecutive failure is ``initial * multiplier**n``,
capped at ``maximum``; the delay is drawn from the top ``jitter`` fraction of
that ceiling, so ``jitter=1`` is "full jitter" (anywhere in ``(0, ceiling]``)
and ``jitter=0`` a fixed schedule. Full jitter spreads the retries of many
clients that lost the same server at the same moment, so that they do not come
back in lock-step when it returns. No delay is ever above ``maximum``.

``Pacing`` keeps a long-polling source from hammering a server that answers
held polls at once, whatever it answers.
"""

from __future__ import annotations

import math
import random
from typing import Final

__all__ = ["Backoff", "Pacing"]

_AT_CAP_JITTER: Final = 0.2
"""The most jitter a delay at the cap gets: enough to spread clients that a server refused
at the same moment (a rotated token), while none comes back much sooner than the cap."""

_AT_ONCE: Final = 1.0
"""A held poll answered sooner than this (seconds), or than half its hold, was not held."""

_CHURN_PAUSE: Final = 0.02
"""Seconds between the starts of polls while every answer brings a new config at once: 50
polls a second at most, and a change still arrives within a few tens of milliseconds."""


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
        if not (0 < initial <= maximum and math.isfinite(maximum)):
            raise ValueError(
                f"backoff needs 0 < initial <= maximum < inf, got {initial} and {maximum}"
            )
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
        """A delay close to ``maximum``, for failures that retrying sooner cannot fix.

        The jitter is taken below the cap, never added above it (``maximum`` is a
        promise to the user), and at most a fifth of it: a client that the
        server refuses comes back no sooner than 80% of the cap.
        """
        self._failures += 1
        return self.maximum * (1 - min(self.jitter, _AT_CAP_JITTER) * self._random())

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


class Pacing:
    """How long a source waits after an answer: ``interval`` without holds, else 0 or more.

    With ``hold`` the next poll goes out as soon as an answer comes. Two kinds of answer
    come back at once (a held poll answered in less than ``_AT_ONCE`` or half its hold):

    - answers that bring nothing new (NO_CHANGE, an UPDATE of the config the client
      already holds, no config at all): the server ignores the hold, or cannot match our
      hash. After two in a row the source waits ``interval`` before each poll, as a
      plain poller would, until an answer is held again;
    - answers that bring a new config: the config changes faster than a poll goes round.
      The source follows, since every one is news, but after two in a row it starts its
      polls at least ``_CHURN_PAUSE`` apart, so that a server changing its config on
      every answer is not polled back to back either.

    One instant answer alone is no proof: a server that shuts down answers its held
    polls at once, and a change ends a hold early; the next poll should go out now.
    """

    def __init__(self, interval: float, hold: float | None) -> None:
        self.interval = interval
        self.hold = hold
        self._instant = 0
        self._churn = 0

    def after_answer(
        self, held: float | None, took: float, *, config_missing: bool, new_config: bool = False
    ) -> float:
        """The pause after an answer to a poll held for ``held`` seconds that took ``took``.

        ``new_config`` says the answer brought a config other than the one held.
        """
        if self.hold is None:
            return self.interval
        at_once = config_missing or (held is not None and took < min(held / 2, _AT_ONCE))
        if not at_once:
            self._instant = self._churn = 0
            return 0.0
        if new_config and not config_missing:
            self._instant = 0
            self._churn += 1
            # Spacing the polls' starts, not adding to each: the time the answer took counts.
            return max(0.0, min(self.interval, _CHURN_PAUSE) - took) if self._churn >= 2 else 0.0
        self._churn = 0
        self._instant += 1
        return self.interval if self._instant >= 2 else 0.0
