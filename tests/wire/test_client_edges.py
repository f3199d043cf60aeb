"""GrpcPollSource against hostile or broken servers: each answer is paced, reported or refused.

The servers are real gRPC servers on 127.0.0.1 whose servicers (written here)
answer what no well-behaved server would: UPDATE at every held poll, a response
type that does not exist, a repeated id, NO_CHANGE before any config, a flood of
details. Random bytes are in ``test_grpc_source_fuzz``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from deepproto.proto.poll.v1 import poll_pb2
from deepproto.proto.tracepoint.v1 import tracepoint_pb2

from confighub import ConfigHub, SourceState, TracePoint
from confighub.exceptions import PollFailed
from confighub.sources import HOLD_METADATA_KEY, GrpcPollSource, RejectedTracePoint
from tests.support.observing import record_status, states
from tests.support.poll_server import Polled, PollServer, PollServicer
from tests.support.waiting import Recorder

CART = TracePoint("tp-cart", "shop/cart.py", 12)
PAY = TracePoint("tp-pay", "shop/pay.py", 30)
FAST: dict[str, Any] = {"backoff_initial": 0.01, "backoff_max": 0.1, "interval": 0.02}

Answer = Callable[[Any, Any, int], Any]
"""What a hostile servicer answers: given the request, the context and the poll's number."""


class HostileServicer(PollServicer):
    """Records each poll like ``PollServicer`` and answers it with ``answer``, at once."""

    def __init__(self, answer: Answer) -> None:
        super().__init__()
        self.answer = answer

    def poll(self, request: Any, context: Any) -> Any:
        metadata = {key: str(value) for key, value in context.invocation_metadata()}
        with self.changed:
            number = len(self.polls)
            self.polls.append(Polled(request, metadata, context.time_remaining()))
            self.changed.notify_all()
        return self.answer(request, context, number)


@pytest.fixture
def hostile() -> Iterator[Callable[[Answer], PollServer]]:
    """Starts a server with a ``HostileServicer`` of the given answer; stops it after the test."""
    started: list[PollServer] = []

    def start(answer: Answer) -> PollServer:
        started.append(PollServer(HostileServicer(answer)).start())
        return started[-1]

    yield start
    for server in started:
        server.stop()


def response(kind: int, new_hash: str, *messages: Any) -> Any:
    """A ``PollResponse`` of any type number, known or not."""
    return poll_pb2.PollResponse(
        ts_nanos=1, current_hash=new_hash, response=list(messages), response_type=kind
    )


def test_instant_update_answers_are_polled_back_to_back(
    hub: ConfigHub, hostile: Callable[[Answer], PollServer]
) -> None:
    """A server that answers each held poll at once with the same config gets one poll per pause.

    This is a server that cannot match our hash (or ignores it): without the guard the
    client polled it about 900 times a second.
    """
    server = hostile(lambda _r, _c, n: response(poll_pb2.UPDATE, "h1", CART.to_proto()))
    paused: Recorder[tuple[float, int]] = Recorder()
    source = GrpcPollSource(
        server.target,
        hub,
        hold=600,
        on_pause=lambda pause: paused((pause, len(server.servicer.polls))),
        **FAST,
    )
    with source:
        items = paused.wait_for(lambda items: len(items) >= 4, "four pauses")[:4]
    pauses, counts = [pause for pause, _ in items], [count for _, count in items]
    # The unheld first poll and one instant answer go by; then every poll waits its turn.
    assert pauses == [FAST["interval"]] * 4
    assert counts == [3, 4, 5, 6]


def test_an_unknown_response_type_is_applied_as_update(
    hub: ConfigHub, hostile: Callable[[Answer], PollServer]
) -> None:
    """Response type 7 is a failure (INTERRUPTED, the last good config kept), never a wipe."""
    first = response(poll_pb2.UPDATE, "h1", CART.to_proto())
    server = hostile(lambda _r, _c, n: first if n == 0 else response(7, "h2"))
    statuses = record_status(hub)
    with GrpcPollSource(server.target, hub, **FAST) as source:
        [*_, status] = statuses.wait_for(
            lambda items: items[-1].state is SourceState.INTERRUPTED, "INTERRUPTED"
        )
        with pytest.raises(PollFailed, match="response type 7, neither UPDATE nor NO_CHANGE"):
            source.poll_once()
    assert isinstance(status.error, PollFailed)
    assert "nothing was applied" in str(status.error)
    assert (hub.server_config, hub.server_hash) == ((CART,), "h1")


def test_duplicate_ids_in_an_update_are_applied(
    hub: ConfigHub, hostile: Callable[[Answer], PollServer], caplog: pytest.LogCaptureFixture
) -> None:
    """Every copy of a repeated id is reported by id, bounded; the other tracepoints apply."""
    long_id = "tp-" + "x" * 100_000
    copies = [
        tracepoint_pb2.TracePointConfig(ID=tp_id, path=path, line_number=line)
        for tp_id in ("tp-twice", long_id)
        for path, line in (("a.py", 1), ("b.py", 2))
    ]
    answer = response(
        poll_pb2.UPDATE, "h1", copies[0], CART.to_proto(), *copies[1:], PAY.to_proto()
    )
    server = hostile(lambda _r, _c, _n: answer)
    rejected: Recorder[RejectedTracePoint] = Recorder()
    source = GrpcPollSource(server.target, hub, **FAST)
    source.rejected.subscribe(rejected)
    with caplog.at_level(logging.WARNING, logger="confighub"):
        result = source.poll_once()
    source.stop()
    assert hub.server_config == (CART, PAY)
    assert (result.applied, len(result.rejected)) == (2, 4)
    assert [item.tracepoint_id for item in rejected.items] == [m.ID for m in copies]
    for item in rejected.items:
        assert "2 tracepoints of the update have this id" in str(item.error)
        assert len(str(item.error)) < 1000
    assert "'tp-twice'" in str(rejected.items[0].error)
    assert len(caplog.records) == 4
    assert all(len(record.getMessage()) < 2000 for record in caplog.records)


def test_no_change_before_any_update_makes_the_hub_valid(
    hub: ConfigHub, hostile: Callable[[Answer], PollServer]
) -> None:
    """NO_CHANGE to a poll with no hash leaves the hub unVALID; the source asks again, paced."""
    update = response(poll_pb2.UPDATE, "h1", CART.to_proto())
    server = hostile(lambda _r, _c, n: response(poll_pb2.NO_CHANGE, "h0") if n < 4 else update)
    statuses, pauses = record_status(hub), Recorder[float]()
    with GrpcPollSource(server.target, hub, hold=600, on_pause=pauses, **FAST):
        statuses.wait_for(lambda items: items[-1].state is SourceState.VALID, "VALID")
        assert hub.server_config == (CART,)
    asked = server.servicer.polls[:5]
    assert [poll.current_hash for poll in asked] == [""] * 5
    assert not any(HOLD_METADATA_KEY in poll.metadata for poll in asked)
    # Two answers without a config in a row cost an interval each, as instant answers do.
    assert pauses.items[:3] == [FAST["interval"]] * 3
    assert states(statuses.items)[:2] == [SourceState.INITIALIZING, SourceState.VALID]


def test_deep_servers_empty_answer_left_the_hub_initializing(
    hub: ConfigHub, hostile: Callable[[Answer], PollServer]
) -> None:
    """NO_CHANGE without a hash (Deep's server holding no tracepoints) is the empty config."""
    server = hostile(lambda _r, _c, _n: response(poll_pb2.NO_CHANGE, ""))
    statuses = record_status(hub)
    with GrpcPollSource(server.target, hub, **FAST):
        statuses.wait_for(lambda items: items[-1].state is SourceState.VALID, "VALID")
    assert hub.server_config == ()


def test_server_details_flood_the_client_log(
    hub: ConfigHub, hostile: Callable[[Answer], PollServer], caplog: pytest.LogCaptureFixture
) -> None:
    """Details of thousands of characters are cut in the failure and in the log line."""
    flood = "details " * 600

    def refuse(_request: Any, context: Any, _number: int) -> Any:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, flood)

    server = hostile(refuse)
    statuses = record_status(hub)
    with (
        caplog.at_level(logging.WARNING, logger="confighub"),
        GrpcPollSource(server.target, hub, token="wrong", **FAST) as source,
    ):
        statuses.wait_for(lambda items: items[-1].state is SourceState.INTERRUPTED, "INTERRUPTED")
    failure = source.last_error
    assert failure is not None
    assert failure.reason.startswith("details details")
    assert failure.reason.endswith(
        "(the server refused the credentials: check the token or basic credentials)"
    )
    assert len(failure.reason) < 400
    [record] = caplog.records
    assert len(record.getMessage()) < 800
    assert "token=" not in str(failure)
