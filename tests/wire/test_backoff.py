"""GrpcPollSource's retry and pacing policy, with an injected stub, clock and pause hook."""

from __future__ import annotations

import logging
import math
import random
import threading
from typing import Any

import grpc
import pytest
from deepproto.proto.poll.v1 import poll_pb2
from hypothesis import given
from hypothesis import strategies as st

from confighub import ConfigHub, SourceState, SourceStatus
from confighub.sources import HOLD_METADATA_KEY, Backoff, GrpcPollSource
from tests.support.waiting import TIMEOUT


class FakeRpcError(grpc.RpcError):  # type: ignore[misc]
    """What a failed call raises: an RpcError that knows its status."""

    def __init__(self, code: grpc.StatusCode) -> None:
        super().__init__(code.name)
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return "scripted failure"


class DoneCall:
    """A call that has already finished with ``outcome``."""

    def __init__(self, outcome: Any) -> None:
        self._outcome = outcome

    def result(self) -> Any:
        if isinstance(self._outcome, Exception):
            raise self._outcome
        return self._outcome

    def cancel(self) -> bool:
        return False


class PendingCall:
    """A call still in flight (a held poll) until it is cancelled."""

    def __init__(self) -> None:
        self._cancelled = threading.Event()

    def result(self) -> Any:
        self._cancelled.wait()
        raise grpc.FutureCancelledError

    def cancel(self) -> bool:
        self._cancelled.set()
        return True


class ScriptedStub:
    """Answers polls from a script, each entry first advancing the fake clock; then holds."""

    def __init__(self, script: list[tuple[Any, float]], clock: list[float]) -> None:
        self.poll = self
        self.script = list(script)
        self.calls: list[dict[str, Any]] = []
        self.holding = threading.Event()
        self._clock = clock

    def future(self, request: Any, *, timeout: float, metadata: Any) -> DoneCall | PendingCall:
        if not self.script:
            self.holding.set()
            return PendingCall()
        self.calls.append(
            {"timeout": timeout, "metadata": dict(metadata), "hash": request.current_hash}
        )
        outcome, takes = self.script.pop(0)
        self._clock[0] += takes
        return DoneCall(outcome)


def no_change() -> Any:
    return poll_pb2.PollResponse(ts_nanos=1, current_hash="h", response_type=poll_pb2.NO_CHANGE)


def update(new_hash: str = "h") -> Any:
    return poll_pb2.PollResponse(ts_nanos=1, current_hash=new_hash, response_type=poll_pb2.UPDATE)


UNAVAILABLE = FakeRpcError(grpc.StatusCode.UNAVAILABLE)


def run_script(
    hub: ConfigHub, script: list[tuple[Any, float]], **options: Any
) -> tuple[list[float], ScriptedStub]:
    """Poll through ``script``; return the pauses the source took and the stub."""
    clock = [0.0]
    stub = ScriptedStub(script, clock)
    pauses: list[float] = []
    source = GrpcPollSource(
        "scripted", hub, stub=stub, on_pause=pauses.append, clock=lambda: clock[0], **options
    )
    with source:
        assert stub.holding.wait(TIMEOUT), "the script did not run to its end"
    assert not source.running
    return pauses, stub


def test_full_jitter_stays_under_a_growing_capped_ceiling() -> None:
    """Ceilings double up to the cap; each jittered delay lies in (0, ceiling]."""
    backoff = Backoff(0.1, 2.0, 2.0, jitter=1.0, rng=random.Random(7))
    ceilings, delays = [], []
    for _ in range(12):
        ceilings.append(backoff.ceiling)
        delays.append(backoff.next_delay())
    assert ceilings == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6] + [2.0] * 7)
    assert all(0 < delay <= ceiling for delay, ceiling in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays)  # jittered, not a fixed schedule


@pytest.mark.parametrize(("draw", "expected"), [(0.0, 0.8), (0.999999, 0.4)])
def test_partial_jitter_bounds(draw: float, expected: float) -> None:
    """jitter=0.5 keeps a delay within the top half of its ceiling, at both extremes of a draw."""

    class Fixed(random.Random):
        def random(self) -> float:
            return draw

    backoff = Backoff(0.2, 10.0, 2.0, jitter=0.5, rng=Fixed())
    backoff.next_delay()
    backoff.next_delay()
    assert backoff.next_delay() == pytest.approx(expected, rel=1e-5)


def test_reset_starts_over_and_at_cap_stays_just_under_the_cap() -> None:
    """After reset() the ceiling is the initial delay again; at_cap() is in (0.8 cap, cap]."""
    backoff = Backoff(0.1, 1.0, 3.0, jitter=1.0, rng=random.Random(1))
    for _ in range(5):
        backoff.next_delay()
    assert backoff.ceiling == 1.0
    backoff.reset()
    assert (backoff.ceiling, backoff.failures) == (0.1, 0)
    delays = [backoff.at_cap() for _ in range(100)]
    assert all(0.8 < delay <= 1.0 for delay in delays)
    assert len(set(delays)) > 1  # still jittered


@given(
    initial=st.floats(0.001, 10.0),
    extra=st.floats(0.0, 100.0),
    multiplier=st.floats(1.0, 10.0),
    jitter=st.floats(0.0, 1.0),
    fatal=st.lists(st.booleans(), min_size=1, max_size=30),
    seed=st.integers(0, 2**32),
)
def test_no_retry_delay_exceeds_the_cap(
    *, initial: float, extra: float, multiplier: float, jitter: float, fatal: list[bool], seed: int
) -> None:
    """No delay, after any mix of ordinary and fatal failures, exceeds maximum (43 s for 30 s)."""
    maximum = initial + extra
    backoff = Backoff(initial, maximum, multiplier, jitter, rng=random.Random(seed))
    for at_cap in fatal:
        delay = backoff.at_cap() if at_cap else backoff.next_delay()
        assert 0 < delay <= maximum


@pytest.mark.parametrize("maximum", [math.inf, math.nan])
def test_an_endless_cap_is_refused(maximum: float) -> None:
    """A cap of inf or NaN is refused: a wait that long cannot be slept and never ends."""
    with pytest.raises(ValueError, match="initial <= maximum"):
        Backoff(0.5, maximum)


def test_a_long_outage_does_not_overflow() -> None:
    """Ten thousand failures in a row still give delays at the cap."""
    backoff = Backoff(0.5, 30.0, 10.0, jitter=0.0)
    for _ in range(10_000):
        delay = backoff.next_delay()
    assert delay == 30.0


def test_the_source_backs_off_exponentially_caps_and_resets(hub: ConfigHub) -> None:
    """Pauses double to the cap while polls fail, reset after a success; one status per outage."""
    statuses: list[SourceStatus] = []
    hub.status.subscribe(statuses.append)
    failures = [(UNAVAILABLE, 0.0)] * 5
    script = [*failures, (update(), 0.0), *failures[:2], (no_change(), 0.0)]
    pauses, _ = run_script(
        hub, script, backoff_initial=0.001, backoff_max=0.004, jitter=0.0, interval=0.0025
    )
    assert pauses == pytest.approx(
        [0.001, 0.002, 0.004, 0.004, 0.004, 0.0025, 0.001, 0.002, 0.0025]
    )
    interrupted, valid = SourceState.INTERRUPTED, SourceState.VALID
    assert [s.state for s in statuses] == [
        SourceState.INITIALIZING,
        *(interrupted, valid, interrupted, valid),
        SourceState.OFF,
    ]


def test_held_polls_follow_each_other_unless_the_server_ignores_the_hold(hub: ConfigHub) -> None:
    """After a hold (even a capped one) poll at once, and after one instant answer; two: wait."""
    hold = 30.0
    script: list[tuple[Any, float]] = [
        (update(), 0.0),  # the first poll does not hold, so it may answer at once
        (no_change(), hold),  # held for the whole hold
        (update(), 0.0),  # a change ends a hold early: one instant answer
        (no_change(), 0.0),  # twice in a row: a server shutting down or ignoring holds: wait
        (no_change(), 5.0),  # the server capped the hold at 5 s: held all the same
        (no_change(), 0.0),  # one instant answer alone: poll again at once
        (no_change(), hold),
    ]
    pauses, stub = run_script(hub, script, hold=hold, interval=0.001, timeout=5.0)
    assert pauses == [0.001]
    first, *held = stub.calls
    assert HOLD_METADATA_KEY not in first["metadata"]
    assert first["timeout"] == 5.0
    assert {call["metadata"][HOLD_METADATA_KEY] for call in held} == {"30.0"}
    assert {call["timeout"] for call in held} == {hold + 5.0}


def test_instant_updates_to_held_polls_are_polled_back_to_back(hub: ConfigHub) -> None:
    """A server that answers every held poll at once with the held config is paced by interval."""
    script: list[tuple[Any, float]] = [(update("h"), 0.0) for _ in range(5)]
    pauses, stub = run_script(hub, script, hold=30.0, interval=0.1)
    # The first poll is not held and brings the config; the first instant answer alone is
    # no proof; from the second on, each instant answer of nothing new costs an interval.
    assert pauses == [0.1, 0.1, 0.1]
    assert len(stub.calls) == 5


def test_instant_new_configs_to_held_polls_are_polled_back_to_back(hub: ConfigHub) -> None:
    """A config that changes on every answer is followed, 20 ms apart, not back to back."""
    script: list[tuple[Any, float]] = [(update(f"h{n}"), 0.0) for n in range(5)]
    pauses, stub = run_script(hub, script, hold=30.0, interval=0.1)
    # Each answer is news, so the source does not fall back to its interval; but from the
    # second instant one on it leaves a short pause, bounding the rate at 50 polls a second.
    assert pauses == [0.02, 0.02, 0.02]
    assert len(stub.calls) == 5


def test_no_change_before_any_config_makes_the_hub_valid(hub: ConfigHub) -> None:
    """NO_CHANGE to a poll without a hash is not applied: the source asks again, paced."""
    statuses: list[SourceStatus] = []
    hub.status.subscribe(statuses.append)
    script = [(no_change(), 0.0)] * 4 + [(update(), 0.0)]
    pauses, stub = run_script(hub, script, hold=30.0, interval=0.001)
    assert pauses == [0.001, 0.001, 0.001]
    asked = stub.calls[:5]
    assert [call["hash"] for call in asked] == [""] * 5
    assert all(HOLD_METADATA_KEY not in call["metadata"] for call in asked)
    assert [s.state for s in statuses] == [
        SourceState.INITIALIZING,
        SourceState.VALID,
        SourceState.OFF,
    ]
    assert hub.server_hash == "h"


def test_an_unexpected_error_is_a_failure_not_a_dead_thread(
    hub: ConfigHub, caplog: pytest.LogCaptureFixture
) -> None:
    """An exception that is no gRPC status is logged with its traceback, then retried."""
    statuses: list[SourceStatus] = []
    hub.status.subscribe(statuses.append)
    script = [(ValueError("garbled"), 0.0), (update(), 0.0)]
    with caplog.at_level(logging.ERROR, logger="confighub"):
        pauses, _ = run_script(hub, script, backoff_initial=0.001, jitter=0.0, interval=0.001)
    assert pauses == pytest.approx([0.001, 0.001])
    [interrupted] = [s for s in statuses if s.state is SourceState.INTERRUPTED]
    assert "ValueError: garbled" in str(interrupted.error)
    [record] = caplog.records
    assert record.exc_info is not None
