"""GrpcPollSource against hostile or broken servers: each answer is paced, reported or refused.

The servers are real gRPC servers on 127.0.0.1 whose servicers (written here)
answer what no well-behaved server would: UPDATE at every held poll, a response
type that does not exist, a repeated id, NO_CHANGE before any config, a flood of
details, and random bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from deepproto.proto.common.v1 import common_pb2
from deepproto.proto.poll.v1 import poll_pb2
from deepproto.proto.tracepoint.v1 import tracepoint_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from confighub import ConfigHub, SourceState, TracePoint
from confighub._wire.anyvalue import encode_scalar
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
    """A server that answers each held poll at once with a new config gets one poll per pause."""
    server = hostile(lambda _r, _c, n: response(poll_pb2.UPDATE, f"h{n}", CART.to_proto()))
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
    server = hostile(lambda _r, _c, n: response(poll_pb2.NO_CHANGE, "") if n < 4 else update)
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


def raw_server(answers: list[bytes]) -> grpc.Server:
    """A PollConfig server that answers each poll with the bytes of ``answers[0]``, unparsed."""
    handler = grpc.unary_unary_rpc_method_handler(lambda _request, _context: answers[0])
    server = grpc.server(futures.ThreadPoolExecutor(2))
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "deepproto.proto.poll.v1.PollConfig", {"poll": handler}
            )
        ]
    )
    return server


def nested(depth: int) -> Any:
    """An ``AnyValue`` of arrays ``depth`` deep around an empty one (no case set)."""
    value = common_pb2.AnyValue()
    for _ in range(depth):
        value = common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=[value]))
    return value


def any_values() -> st.SearchStrategy[Any]:
    """``AnyValue`` messages: scalars, arrays, key-value lists, none set, deeply nested."""
    int64 = st.integers(-(2**63), 2**63 - 1)
    scalars = st.one_of(st.text(max_size=4), int64, st.floats(), st.booleans())
    return st.recursive(
        st.one_of(scalars.map(encode_scalar), st.integers(0, 40).map(nested)),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3).map(
                lambda items: common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=items))
            ),
            st.lists(key_values(inner), max_size=3).map(
                lambda kvs: common_pb2.AnyValue(kvlist_value=common_pb2.KeyValueList(values=kvs))
            ),
        ),
        max_leaves=6,
    )


def field(number: int, payload: bytes) -> bytes:
    """``payload`` as field ``number`` of a message (length-delimited), in wire bytes."""
    length, size = b"", len(payload)
    while True:
        byte, size = size & 0x7F, size >> 7
        length += bytes([byte | (0x80 if size else 0)])
        if not size:
            return bytes([number << 3 | 2]) + length + payload


def too_deep(depth: int) -> bytes:
    """An UPDATE whose one tracepoint targets by an array ``depth`` levels deep, as bytes.

    Built by hand: protobuf itself refuses to build a message deeper than it would parse.
    """
    value = b""
    for _ in range(depth):
        value = field(5, field(1, value))  # AnyValue.array_value, ArrayValue.values
    tracepoint = field(6, field(2, value))  # TracePointConfig.targeting, KeyValue.value
    return field(3, tracepoint) + bytes([4 << 3, poll_pb2.UPDATE])  # response, response_type


def key_values(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``KeyValue`` messages from a small set of keys (so some repeat), some without a value."""
    keys = st.sampled_from(["", "env", "service.name"])
    return st.one_of(
        st.builds(common_pb2.KeyValue, key=keys, value=values),
        st.builds(common_pb2.KeyValue, key=keys),
    )


def tracepoint_messages() -> st.SearchStrategy[Any]:
    """``TracePointConfig`` messages with ids from a small set (so some repeat) and odd fields."""
    labels = st.builds(
        tracepoint_pb2.LabelExpression,
        key=st.text(max_size=3),
        static=any_values(),
        expression=st.text(max_size=3),
    )
    metrics = st.builds(
        tracepoint_pb2.Metric,
        name=st.text(max_size=4),
        labelExpressions=st.lists(labels, max_size=2),
        type=st.integers(-2, 9),
        expression=st.text(max_size=4),
    )
    return st.builds(
        tracepoint_pb2.TracePointConfig,
        ID=st.sampled_from(["", "a", "b", "tp-1"]),
        path=st.text(max_size=5),
        line_number=st.integers(0, 2**32 - 1),
        args=st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=3),
        watches=st.lists(st.text(max_size=4), max_size=2),
        targeting=st.lists(key_values(any_values()), max_size=3),
        metrics=st.lists(metrics, max_size=2),
    )


def answers() -> st.SearchStrategy[bytes]:
    """Random bytes, and serialized answers of any type number, whole, cut short or with a flip."""
    structured = st.builds(
        lambda kind, new_hash, messages: response(kind, new_hash, *messages).SerializeToString(),
        st.integers(-3, 5),
        st.text(max_size=8),
        st.lists(tracepoint_messages(), max_size=4),
    )
    mutated = st.tuples(structured, st.integers(0, 200), st.integers(0, 255)).map(
        lambda t: t[0][: t[1]] + bytes([t[2]]) + t[0][t[1] + 1 :]
    )
    return st.one_of(
        st.binary(max_size=200), structured, mutated, st.integers(30, 200).map(too_deep)
    )


def test_a_random_answer_raises_something_else(hub: ConfigHub) -> None:
    """Whatever bytes come back, a poll gives a result or a PollFailed, never another error."""
    answer = [b""]
    server = raw_server(answer)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    source = GrpcPollSource(f"127.0.0.1:{port}", hub, timeout=10.0)

    @settings(max_examples=300)
    @given(answers())
    def poll(data: bytes) -> None:
        answer[0] = data
        failed: PollFailed | None = None
        try:
            result = source.poll_once()
        except PollFailed as failure:
            failed = failure
        if failed is not None:
            assert len(str(failed)) < 1500
        elif result.updated:
            parsed = poll_pb2.PollResponse.FromString(data)
            assert parsed.response_type == poll_pb2.UPDATE
            assert result.applied + len(result.rejected) == len(parsed.response)

    try:
        poll()
    finally:
        source.stop()
        server.stop(grace=None).wait()
