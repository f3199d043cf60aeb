"""Dict and protobuf conversions of tracepoints: shapes, coercions, errors and round trips."""

from __future__ import annotations

from typing import Any

import pytest
from deepproto.proto.common.v1 import common_pb2
from deepproto.proto.tracepoint.v1 import tracepoint_pb2
from hypothesis import given

from confighub import InvalidTracePoint
from confighub.model import LabelExpression, MetricDefinition, MetricType, TracePoint, config_hash
from tests.support.strategies import tracepoints

FULL = TracePoint(
    id="payment-latency",
    path="shop/payments.py",
    line=120,
    args={"fire_count": "-1", "snapshot": "no_collect"},
    watches=("order.id",),
    metrics=[
        MetricDefinition(
            "payment_seconds",
            MetricType.HISTOGRAM,
            [
                LabelExpression("provider", expression="provider.name"),
                LabelExpression("n", static=3),
            ],
            expression="elapsed",
            unit="",
        )
    ],
    targeting={"service": "shop", "zones": ["eu", "us"], "owner": {"team": "pay", "on_call": True}},
)

FULL_DICT: dict[str, Any] = {
    "id": "payment-latency",
    "path": "shop/payments.py",
    "line": 120,
    "args": {"fire_count": "-1", "snapshot": "no_collect"},
    "watches": ["order.id"],
    "metrics": [
        {
            "name": "payment_seconds",
            "type": "HISTOGRAM",
            "labels": [
                {"key": "provider", "expression": "provider.name"},
                {"key": "n", "static": 3},
            ],
            "expression": "elapsed",
            "unit": "",
        }
    ],
    "targeting": {
        "service": "shop",
        "zones": ["eu", "us"],
        "owner": {"team": "pay", "on_call": True},
    },
}


# Dicts


def test_to_dict_gives_the_file_format() -> None:
    """to_dict gives plain dicts and lists in the file format, None metric fields left out."""
    data = FULL.to_dict()
    assert data == FULL_DICT
    assert type(data["targeting"]["owner"]) is dict
    assert type(data["targeting"]["zones"]) is list


def test_to_dict_omits_empty_collections() -> None:
    """A bare tracepoint's dict holds only id, path and line."""
    assert TracePoint("a", "p.py", 3).to_dict() == {"id": "a", "path": "p.py", "line": 3}


def test_from_dict_reads_the_file_format() -> None:
    """from_dict of the file-format dict gives the same tracepoint."""
    assert TracePoint.from_dict(FULL_DICT) == FULL


def test_from_dict_derives_the_id_from_path_and_line() -> None:
    """Without an id (or with a null one) the id is 'path:line'."""
    assert TracePoint.from_dict({"path": "shop/cart.py", "line": 57}).id == "shop/cart.py:57"
    assert TracePoint.from_dict({"id": None, "path": "a.py", "line": 1}).id == "a.py:1"


def test_from_dict_coerces_yaml_scalars_in_args() -> None:
    """Numbers and booleans in args become the strings Deep expects."""
    point = TracePoint.from_dict(
        {
            "path": "p.py",
            "line": 1,
            "args": {"fire_count": -1, "ratio": 0.5, "flag": True, "off": False},
        }
    )
    assert point.args == {"fire_count": "-1", "ratio": "0.5", "flag": "true", "off": "false"}


def test_from_dict_treats_null_collections_as_empty() -> None:
    """A key written with no value (YAML null) counts as an empty collection."""
    data = {"path": "p.py", "line": 1, "args": None, "watches": None, "metrics": None}
    assert TracePoint.from_dict(data | {"targeting": None}) == TracePoint("p.py:1", "p.py", 1)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"path": "p.py", "line": 1, "args": {"condition": ["a", "b"]}}, "args.condition"),
        ({"path": "p.py", "line": 1, "args": {"condition": {"a": 1}}}, "args.condition"),
        ({"path": "p.py", "line": 1, "args": {"condition": None}}, "args.condition"),
        ({"path": "p.py", "line": 1, "colour": "red"}, "colour"),
        ({"path": "p.py", "line": "12"}, "line"),
        ({"path": "p.py", "line": 12.0}, "line"),
        ({"path": "p.py", "line": True}, "line"),
        ({"path": "p.py"}, "line"),
        ({"line": 3}, "path"),
        (
            {"path": "p.py", "line": 1, "metrics": [{"name": "m", "colour": "red"}]},
            "metrics[0].colour",
        ),
        ({"path": "p.py", "line": 1, "args": "fire_count=1"}, "args"),
        (["p.py", 1], "tracepoint"),
    ],
)
def test_from_dict_rejects_bad_entries(data: Any, field: str) -> None:
    """Nested args, unknown keys, a non-integer or missing line and the like name their field."""
    with pytest.raises(InvalidTracePoint) as caught:
        TracePoint.from_dict(data)
    assert caught.value.field == field


def test_from_dict_errors_name_the_id() -> None:
    """An invalid entry's error names its given or derived id."""
    with pytest.raises(InvalidTracePoint) as caught:
        TracePoint.from_dict({"id": "tp-7", "path": "p.py", "line": 1, "args": {"stage": "x"}})
    assert caught.value.tracepoint_id == "tp-7"
    with pytest.raises(InvalidTracePoint) as caught:
        TracePoint.from_dict({"path": "p.py", "line": 4, "args": {"stage": "x"}})
    assert caught.value.tracepoint_id == "p.py:4"


# Protos


def test_to_proto_fills_every_field() -> None:
    """to_proto writes id, path, line, args, watches, targeting and metrics with labels."""
    message = FULL.to_proto()
    assert isinstance(message, tracepoint_pb2.TracePointConfig)
    assert (message.ID, message.path, message.line_number) == (
        "payment-latency",
        "shop/payments.py",
        120,
    )
    assert dict(message.args) == {"fire_count": "-1", "snapshot": "no_collect"}
    assert list(message.watches) == ["order.id"]
    targeting = {kv.key: kv.value for kv in message.targeting}
    assert targeting["service"].string_value == "shop"
    assert [v.string_value for v in targeting["zones"].array_value.values] == ["eu", "us"]
    assert [kv.key for kv in targeting["owner"].kvlist_value.values] == ["team", "on_call"]
    (metric,) = message.metrics
    assert metric.type == tracepoint_pb2.HISTOGRAM
    assert [label.WhichOneof("value") for label in metric.labelExpressions] == [
        "expression",
        "static",
    ]
    assert metric.labelExpressions[1].static.int_value == 3
    assert metric.HasField("expression")
    assert metric.HasField("unit")
    assert metric.unit == ""
    assert not metric.HasField("help")


def test_from_proto_keeps_unset_and_empty_optional_fields_apart() -> None:
    """An unset optional metric field reads as None, an empty one as ''."""
    message = tracepoint_pb2.TracePointConfig(
        ID="a", path="p.py", line_number=1, metrics=[tracepoint_pb2.Metric(name="m", help="")]
    )
    (metric,) = TracePoint.from_proto(message).metrics
    assert (metric.help, metric.unit, metric.type) == ("", None, MetricType.COUNTER)


def _message(**fields: Any) -> Any:
    return tracepoint_pb2.TracePointConfig(ID="tp-5", path="p.py", line_number=1, **fields)


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (_message(metrics=[tracepoint_pb2.Metric(name="m", type=9)]), "metrics[0].type"),
        (
            _message(metrics=[tracepoint_pb2.Metric(name="m", labelExpressions=[{"key": "k"}])]),
            "metrics[0].labels[0]",
        ),
        (
            _message(
                metrics=[
                    tracepoint_pb2.Metric(
                        name="m",
                        labelExpressions=[
                            {"key": "k", "static": {"array_value": {"values": [{"int_value": 1}]}}}
                        ],
                    )
                ]
            ),
            "metrics[0].labels[0].static",
        ),
        (_message(targeting=[common_pb2.KeyValue(key="s")]), "targeting.s"),
        (_message(targeting=[common_pb2.KeyValue(key="s", value={})]), "targeting.s"),
        (
            _message(
                targeting=[
                    common_pb2.KeyValue(key="s", value={"int_value": 1}),
                    common_pb2.KeyValue(key="s", value={"int_value": 2}),
                ]
            ),
            "targeting.s",
        ),
        (_message(args={"fire_count": "lots"}), "args.fire_count"),
        (tracepoint_pb2.TracePointConfig(ID="tp-5", line_number=1), "path"),
    ],
)
def test_from_proto_rejects_bad_messages(message: Any, field: str) -> None:
    """An unknown metric type, a missing value or a duplicate key is an error naming its field."""
    with pytest.raises(InvalidTracePoint) as caught:
        TracePoint.from_proto(message)
    assert (caught.value.tracepoint_id, caught.value.field) == ("tp-5", field)


def test_proto_round_trip_of_the_full_example() -> None:
    """The full example survives model -> proto -> bytes -> proto -> model."""
    wire = FULL.to_proto().SerializeToString()
    assert TracePoint.from_proto(tracepoint_pb2.TracePointConfig.FromString(wire)) == FULL


# Round trips of generated tracepoints


@given(tracepoints())
def test_model_dict_model_round_trip(point: TracePoint) -> None:
    """from_dict(to_dict(tp)) gives back tp, with the same hash."""
    back = TracePoint.from_dict(point.to_dict())
    assert back == point
    assert config_hash([back]) == config_hash([point])


@given(tracepoints())
def test_dict_model_dict_round_trip(point: TracePoint) -> None:
    """A file-format dict survives dict -> model -> dict unchanged."""
    data = point.to_dict()
    assert TracePoint.from_dict(data).to_dict() == data


@given(tracepoints())
def test_model_proto_model_round_trip(point: TracePoint) -> None:
    """from_proto(to_proto(tp)) gives back tp, through the wire bytes, with the same hash."""
    wire = point.to_proto().SerializeToString()
    back = TracePoint.from_proto(tracepoint_pb2.TracePointConfig.FromString(wire))
    assert back == point
    assert config_hash([back]) == config_hash([point])


@given(tracepoints())
def test_proto_dict_proto_round_trip(point: TracePoint) -> None:
    """A proto message survives proto -> model -> dict -> model -> proto unchanged."""
    message = point.to_proto()
    again = TracePoint.from_dict(TracePoint.from_proto(message).to_dict()).to_proto()
    assert again == message
