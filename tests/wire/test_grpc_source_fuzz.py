"""The client's answer decoder, fuzzed: any bytes give a result or a ``PollFailed``.

Whatever bytes a server sends back, a poll gives a result (with any rejections
reported) or a ``PollFailed``, never another exception. The answers go over a
real gRPC channel from a server that sends raw bytes, so that grpc's own parsing
of them is part of what is tested.
"""

from __future__ import annotations

from concurrent import futures
from typing import Any

import grpc
from deepproto.proto.common.v1 import common_pb2
from deepproto.proto.poll.v1 import poll_pb2
from deepproto.proto.tracepoint.v1 import tracepoint_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from confighub import ConfigHub
from confighub._wire.anyvalue import encode_scalar
from confighub.exceptions import PollFailed
from confighub.sources import GrpcPollSource


def response(kind: int, new_hash: str, *messages: Any) -> Any:
    """A ``PollResponse`` of any type number, known or not."""
    return poll_pb2.PollResponse(
        ts_nanos=1, current_hash=new_hash, response=list(messages), response_type=kind
    )


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
