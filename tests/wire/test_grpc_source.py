"""GrpcPollSource against a real deep-proto PollConfig server on 127.0.0.1."""

from __future__ import annotations

import logging
from typing import Any

import grpc
import pytest
from deepproto.proto.tracepoint.v1 import tracepoint_pb2

from confighub import ConfigHub, SourceState, TracePoint
from confighub.exceptions import PollFailed
from confighub.sources import HOLD_METADATA_KEY, GrpcPollSource, RejectedTracePoint
from tests.support.observing import counts, record_changes, record_status, states
from tests.support.poll_server import PollServer
from tests.support.threads import alive, started_since
from tests.support.waiting import Recorder, wait_until

CART = TracePoint("tp-cart", "shop/cart.py", 12, {"fire_count": "-1"})
PAY = TracePoint("tp-pay", "shop/pay.py", 30)
FAST: dict[str, Any] = {
    "backoff_initial": 0.01,
    "backoff_max": 0.1,
    "interval": 0.02,
    "timeout": 5.0,
}


def test_first_poll_updates_then_heartbeats(server: PollServer, hub: ConfigHub) -> None:
    """The first poll applies the served config; later polls are NO_CHANGE heartbeats."""
    served = server.servicer.serve(CART, PAY)
    changes, beats = record_changes(hub), Recorder[int]()
    hub.heartbeats.subscribe(beats)
    with GrpcPollSource(server.target, hub, **FAST):
        beats.wait_for(lambda items: len(items) >= 3, "three polls")
    assert [(c.old_hash, c.new_hash) for c in changes.items] == [(None, served)]
    assert changes.items[0].new == (CART, PAY)
    hashes = [poll.current_hash for poll in server.servicer.polls]
    assert hashes[0] == ""
    assert set(hashes[1:]) == {served}
    assert hub.current_status.state is SourceState.OFF


def test_polls_send_the_server_hash_not_the_effective_one(
    server: PollServer, hub: ConfigHub
) -> None:
    """With a custom tracepoint the hub's hash differs, but polls still send the server's."""
    served = server.servicer.serve(CART)
    changes = record_changes(hub)
    with GrpcPollSource(server.target, hub, **FAST):
        changes.wait_for(lambda items: len(items) == 1, "the served config")
        hub.add_custom("extra.py", 3)
        assert hub.current_hash != served
        count = len(server.servicer.polls)
        server.servicer.wait_for(lambda: len(server.servicer.polls) > count + 2, "more polls")
    assert {poll.current_hash for poll in server.servicer.polls[1:]} == {served}
    assert len(changes.items) == 2


def test_long_poll_delivers_a_change_while_held(server: PollServer, hub: ConfigHub) -> None:
    """A held poll returns as soon as the config changes, long before its 600 s hold ends."""
    assert HOLD_METADATA_KEY == "confighub-hold"
    first = server.servicer.serve(CART)
    changes = record_changes(hub)
    with GrpcPollSource(server.target, hub, hold=600, **FAST):
        changes.wait_for(lambda items: len(items) == 1, "the first config")
        server.servicer.wait_for(lambda: server.servicer.holding == 1, "a held poll")
        second = server.servicer.serve(PAY)
        changes.wait_for(lambda items: len(items) == 2, "the change, through the held poll")
        server.servicer.wait_for(lambda: server.servicer.holding == 1, "the next held poll")
    assert [c.new_hash for c in changes.items] == [first, second]
    held = [poll for poll in server.servicer.polls if HOLD_METADATA_KEY in poll.metadata]
    assert {poll.metadata[HOLD_METADATA_KEY] for poll in held} == {"600"}
    # The deadline covers the hold plus a margin, so the client never cuts a hold short.
    assert all(poll.time_remaining is not None and poll.time_remaining > 600 for poll in held)
    # The first poll does not hold, so the hub is VALID as soon as the server answers.
    assert HOLD_METADATA_KEY not in server.servicer.polls[0].metadata


def test_stop_during_a_held_poll_cancels_it_and_leaves_no_thread(
    server: PollServer, hub: ConfigHub
) -> None:
    """stop() cancels a 600 s held poll (the test would time out otherwise) and joins."""
    server.servicer.serve(CART)
    before = alive()
    source = GrpcPollSource(server.target, hub, hold=600, **FAST).start()
    server.servicer.wait_for(lambda: server.servicer.holding == 1, "a held poll")
    source.stop()
    assert not source.running
    assert hub.current_status.state is SourceState.OFF
    server.servicer.wait_for(lambda: server.servicer.holding == 0, "the server to see the cancel")
    # grpc ends its channel thread just after close(), so wait for it rather than assert.
    wait_until(
        lambda: not started_since(before, ignoring=PollServer.THREAD_PREFIX),
        "every thread the source started to end",
    )


def test_hub_closed_while_polling_ends_the_thread_quietly(
    server: PollServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Closing the hub ends a held poll and the polling thread, without an error logged."""
    server.servicer.serve(CART)
    hub = ConfigHub()
    source = GrpcPollSource(server.target, hub, hold=600, **FAST).start()
    server.servicer.wait_for(lambda: server.servicer.holding == 1, "a held poll")
    with caplog.at_level(logging.WARNING, logger="confighub"):
        hub.close()
        wait_until(lambda: not source.running, "the polling thread to end")
        source.stop()
    assert caplog.records == []


def test_server_restarts_recover_without_duplicate_changes(
    server: PollServer, hub: ConfigHub
) -> None:
    """Stopped and restarted twice on its port: INTERRUPTED then VALID each time, no repeat."""
    first = server.servicer.serve(CART)
    changes, statuses = record_changes(hub), record_status(hub)
    with GrpcPollSource(server.target, hub, hold=30, **FAST) as source:
        changes.wait_for(lambda items: len(items) == 1, "the first config")
        for outage, serve_next in enumerate([(CART,), (CART, PAY)], start=1):
            server.servicer.wait_for(lambda: server.servicer.holding == 1, "a held poll")
            server.stop()
            statuses.wait_for(counts(SourceState.INTERRUPTED, outage), f"outage {outage}")
            last = server.servicer.serve(*serve_next)
            server.start()
            statuses.wait_for(counts(SourceState.VALID, outage + 1), f"recovery {outage}")
        changes.wait_for(lambda items: items[-1].new_hash == last, "the final config")
        assert isinstance(source.last_error, PollFailed)
    assert [(c.old_hash, c.new_hash) for c in changes.items] == [(None, first), (first, last)]
    assert hub.server_config == (CART, PAY)
    valid, interrupted, off = SourceState.VALID, SourceState.INTERRUPTED, SourceState.OFF
    assert states(statuses.items) == [
        SourceState.INITIALIZING,
        *(valid, interrupted, valid, interrupted, valid),
        off,
    ]
    assert all(s.error.code == "UNAVAILABLE" for s in statuses.items if s.state is interrupted)  # type: ignore[union-attr]


def test_a_bad_tracepoint_is_reported_and_the_rest_apply(
    server: PollServer, hub: ConfigHub, caplog: pytest.LogCaptureFixture
) -> None:
    """An invalid stage is logged and published by id; the others apply under the server hash."""
    bad = tracepoint_pb2.TracePointConfig(
        ID="tp-bad", path="shop/bad.py", line_number=3, args={"stage": "sometime"}
    )
    served = server.servicer.serve_raw("server-hash-1", [CART.to_proto(), bad, PAY.to_proto()])
    rejected = Recorder[RejectedTracePoint]()
    source = GrpcPollSource(server.target, hub, **FAST)
    source.rejected.subscribe(rejected)
    with caplog.at_level(logging.WARNING, logger="confighub"), source:
        [item] = rejected.wait_for(lambda items: len(items) == 1, "the rejected tracepoint")
        server.servicer.wait_for(
            lambda: sum(p.current_hash == served for p in server.servicer.polls) >= 2,
            "polls that send the server's hash back",
        )
    assert (item.tracepoint_id, item.server_hash) == ("tp-bad", served)
    assert (item.error.field, item.error.value) == ("args.stage", "sometime")
    assert hub.server_config == (CART, PAY)
    assert hub.server_hash == served
    assert len(rejected.items) == 1
    [record] = [r for r in caplog.records if "tp-bad" in r.getMessage()]
    assert "args.stage" in record.getMessage()


@pytest.mark.parametrize(
    "refusal", [grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED]
)
def test_refused_credentials_back_off_at_the_cap(
    server: PollServer, hub: ConfigHub, refusal: grpc.StatusCode
) -> None:
    """A refusal is reported on status and the next poll waits near the cap: one poll only."""
    server.servicer.required_auth = "Bearer right"
    server.servicer.refusal = refusal
    statuses, pauses = record_status(hub), Recorder[float]()
    options = {**FAST, "backoff_max": 60.0}
    with GrpcPollSource(server.target, hub, token="wrong", on_pause=pauses, **options):
        [pause] = pauses.wait_for(lambda items: len(items) == 1, "the pause after the refusal")
        [*_, status] = statuses.wait_for(
            lambda items: items[-1].state is SourceState.INTERRUPTED, "INTERRUPTED"
        )
    assert 0.8 * 60.0 < pause <= 60.0
    assert isinstance(status.error, PollFailed)
    assert status.error.code == refusal.name
    assert len(server.servicer.polls) == 1


def test_an_observer_may_stop_the_source(server: PollServer, hub: ConfigHub) -> None:
    """stop() from an observer (on the polling thread) ends polling after that poll."""
    server.servicer.serve(CART)
    source = GrpcPollSource(server.target, hub, **FAST)
    hub.changes.subscribe(lambda _: source.stop())
    source.start()
    wait_until(lambda: not source.running, "the polling thread to end")
    source.stop()
    assert len(server.servicer.polls) == 1
    assert hub.current_status.state is SourceState.OFF
    assert hub.server_config == (CART,)
