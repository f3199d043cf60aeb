"""The JSON form of tracepoints (protobuf's JSON mapping, as Deep's HTTP API speaks it)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given

from confighub import InvalidTracePoint
from confighub.model import TracePoint
from tests.model.test_codec import FULL
from tests.support.strategies import tracepoints


@given(tracepoints())
def test_json_round_trips_every_tracepoint(tp: TracePoint) -> None:
    """from_json(to_json(tp)) == tp, also through a JSON text."""
    assert TracePoint.from_json(json.loads(json.dumps(tp.to_json()))) == tp


def test_json_uses_protobufs_field_names() -> None:
    """The keys are the ones Deep's Grafana datasource sends and reads."""
    data = FULL.to_json()
    assert data["ID"] == "payment-latency"
    assert data["lineNumber"] == 120
    assert set(data) == {"ID", "path", "lineNumber", "args", "watches", "targeting", "metrics"}


def test_proto_field_names_are_accepted_too() -> None:
    """``line_number`` reads like ``lineNumber``, as protobuf's JSON parser allows."""
    tp = TracePoint.from_json({"ID": "a", "path": "x.py", "line_number": 7})
    assert (tp.id, tp.line) == ("a", 7)


def test_a_tracepoint_without_id_gets_the_default() -> None:
    """A create without an ID takes the id the server chose."""
    assert TracePoint.from_json({"path": "x.py", "lineNumber": 1}, default_id="fresh").id == "fresh"


@pytest.mark.parametrize(
    ("data", "field", "said"),
    [
        ({"path": "x.py", "lineNumber": "q"}, "lineNumber", "invalid literal"),
        ({"path": "x.py", "lineNumber": 1, "colour": "red"}, "colour", "is not a field"),
        ({"path": "x.py", "lineNumber": -1}, "lineNumber", "out of range"),
        ({"path": "x.py", "lineNumber": 1, "args": {"a": {"b": 1}}}, "args", "string"),
        ({"path": 3, "lineNumber": 1}, "path", ""),
        (["not", "an", "object"], "tracepoint", "must be a JSON object"),
    ],
)
def test_bad_json_is_invalid_tracepoint_naming_the_field(
    data: object, field: str, said: str
) -> None:
    """Unknown fields and wrong types are InvalidTracePoint with the field named."""
    with pytest.raises(InvalidTracePoint) as caught:
        TracePoint.from_json(data, default_id="d")
    assert caught.value.field == field
    assert said in str(caught.value)


def test_deep_nesting_is_refused_not_a_recursion_error() -> None:
    """A targeting value nested a thousand levels is an InvalidTracePoint, quickly."""
    value: dict[str, object] = {"stringValue": "x"}
    for _ in range(1000):
        value = {"arrayValue": {"values": [value]}}
    data = {"path": "x.py", "lineNumber": 1, "targeting": [{"key": "k", "value": value}]}
    with pytest.raises(InvalidTracePoint):
        TracePoint.from_json(data, default_id="d")


def test_a_huge_bad_value_makes_a_bounded_message() -> None:
    """A megabyte of bad value is cut in the message."""
    with pytest.raises(InvalidTracePoint) as caught:
        TracePoint.from_json({"path": "x.py", "lineNumber": "9" * 1_000_000 + "x"})
    assert len(str(caught.value)) < 3000
