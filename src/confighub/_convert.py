"""Conversions of a ``TracePoint`` to and from its dict (file) and protobuf (wire) forms.

Both directions are lossless: ``from_dict(to_dict(tp)) == tp`` and
``from_proto(to_proto(tp)) == tp``. The proto's optional metric fields are read
with ``HasField`` so that an unset field (None) and an empty one (``""``) stay apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deepproto.proto.common.v1 import common_pb2
from deepproto.proto.tracepoint.v1 import tracepoint_pb2

# ``confighub.model`` imports this module too: only its attributes are used, at call time.
from confighub import model
from confighub.exceptions import InvalidTracePoint

__all__ = [
    "tracepoint_from_dict",
    "tracepoint_from_proto",
    "tracepoint_to_dict",
    "tracepoint_to_proto",
]

_TRACEPOINT_KEYS = ("id", "path", "line", "args", "watches", "metrics", "targeting")
_KNOWN_KEYS = frozenset(_TRACEPOINT_KEYS)
_OPTIONAL_METRIC_FIELDS = ("expression", "namespace", "help", "unit")
_ANY_VALUE_CASES: dict[type, str] = {
    bool: "bool_value",
    int: "int_value",
    float: "double_value",
    str: "string_value",
    bytes: "bytes_value",
}


def tracepoint_to_dict(tp: model.TracePoint) -> dict[str, Any]:
    """Return the file-format dict of ``tp``: plain dicts and lists, empty collections omitted."""
    data: dict[str, Any] = {"id": tp.id, "path": tp.path, "line": tp.line}
    if tp.args:
        data["args"] = dict(tp.args)
    if tp.watches:
        data["watches"] = list(tp.watches)
    if tp.metrics:
        data["metrics"] = [_metric_to_dict(metric) for metric in tp.metrics]
    if tp.targeting:
        data["targeting"] = _plain(tp.targeting)
    return data


def _metric_to_dict(metric: model.MetricDefinition) -> dict[str, Any]:
    data: dict[str, Any] = {"name": metric.name, "type": metric.type.value}
    if metric.labels:
        data["labels"] = [
            {"key": label.key, "static": label.static}
            if label.static is not None
            else {"key": label.key, "expression": label.expression}
            for label in metric.labels
        ]
    for field in _OPTIONAL_METRIC_FIELDS:
        value = getattr(metric, field)
        if value is not None:
            data[field] = value
    return data


def _plain(value: object) -> object:
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def tracepoint_from_dict(data: object) -> model.TracePoint:
    """Build a tracepoint from its file-format dict.

    ``id`` defaults to ``"{path}:{line}"``. YAML scalars in ``args`` become strings
    (booleans ``"true"``/``"false"``); nested values there, unknown keys and a
    ``line`` that is not an integer raise ``InvalidTracePoint``. A null collection
    counts as an empty one.
    """
    # ``dict`` first: a plain dict, the usual case, passes without the slower ABC check.
    if not isinstance(data, (dict, Mapping)):
        raise InvalidTracePoint(None, "tracepoint", data, "must be a mapping")
    # Any: the model validates whatever the document holds.
    path: Any = data.get("path")
    line: Any = data.get("line")
    tp_id = data.get("id")
    line_is_int = isinstance(line, int) and not isinstance(line, bool)
    if tp_id is None and isinstance(path, str) and line_is_int:
        tp_id = f"{path}:{line}"
    # One subset test clears the keys of a plain dict, the usual case; the walk finds the bad one.
    if not (type(data) is dict and data.keys() <= _KNOWN_KEYS):
        for key in data:
            if key not in _TRACEPOINT_KEYS:
                raise InvalidTracePoint(
                    tp_id,
                    str(key),
                    data[key],
                    f"unknown key (expected {', '.join(_TRACEPOINT_KEYS)})",
                )
    if path is None:
        raise InvalidTracePoint(tp_id, "path", None, "is required")
    if line is None:
        raise InvalidTracePoint(tp_id, "line", None, "is required")
    if not line_is_int:
        raise InvalidTracePoint(tp_id, "line", line, "must be an integer")
    watches = data.get("watches")
    metrics = data.get("metrics")
    targeting = data.get("targeting")
    # By position, in the order of the fields: quicker than by keyword, and this is the hot path
    # of replaying a tape.
    return model.TracePoint(
        f"{path}:{line}" if tp_id is None else tp_id,
        path,
        line,
        _args_from_dict(tp_id, data.get("args")),
        () if watches is None else watches,
        () if metrics is None else metrics,
        {} if targeting is None else targeting,
    )


def _args_from_dict(tp_id: object, args: object) -> Any:
    if not isinstance(args, (dict, Mapping)):
        # None means no args; anything else is left for the model to reject.
        return {} if args is None else args
    coerced: dict[object, object] = {}
    for key, value in args.items():
        if type(value) is str:  # the usual case, first: it is none of the types below
            coerced[key] = value
        elif isinstance(value, bool):
            coerced[key] = "true" if value else "false"
        elif isinstance(value, int | float) and not isinstance(value, bool):
            coerced[key] = str(value)
        elif isinstance(value, str):
            coerced[key] = value
        else:
            raise InvalidTracePoint(tp_id, f"args.{key}", value, "must be a string or a number")
    return coerced


def tracepoint_to_proto(tp: model.TracePoint) -> Any:
    """Return deep-proto's ``TracePointConfig`` for ``tp``."""
    return tracepoint_pb2.TracePointConfig(
        ID=tp.id,
        path=tp.path,
        line_number=tp.line,
        args=dict(tp.args),
        watches=list(tp.watches),
        targeting=_key_values(tp.targeting),
        metrics=[_metric_to_proto(metric) for metric in tp.metrics],
    )


def _metric_to_proto(metric: model.MetricDefinition) -> Any:
    optional = {
        field: getattr(metric, field)
        for field in _OPTIONAL_METRIC_FIELDS
        if getattr(metric, field) is not None
    }
    labels = [
        tracepoint_pb2.LabelExpression(key=label.key, static=_any_value(label.static))
        if label.static is not None
        else tracepoint_pb2.LabelExpression(key=label.key, expression=label.expression)
        for label in metric.labels
    ]
    return tracepoint_pb2.Metric(
        name=metric.name,
        type=tracepoint_pb2.MetricType.Value(metric.type.value),
        labelExpressions=labels,
        **optional,
    )


def _any_value(value: object) -> Any:
    # The model hands over exact built-in types only (subclasses are normalized away).
    case = _ANY_VALUE_CASES.get(type(value))
    if case is not None:
        return common_pb2.AnyValue(**{case: value})
    if isinstance(value, Mapping):
        return common_pb2.AnyValue(kvlist_value=common_pb2.KeyValueList(values=_key_values(value)))
    if isinstance(value, tuple):
        items = [_any_value(item) for item in value]
        return common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=items))
    raise TypeError(f"no AnyValue case for {type(value).__name__}")


def _key_values(mapping: Mapping[str, object]) -> list[Any]:
    return [common_pb2.KeyValue(key=key, value=_any_value(value)) for key, value in mapping.items()]


def tracepoint_from_proto(message: Any) -> model.TracePoint:
    """Build a tracepoint from deep-proto's ``TracePointConfig``; validates like the model."""
    tp_id = message.ID
    # Plain dicts rather than model objects, so that the model validates them and
    # names this tracepoint in its errors.
    metrics: list[Any] = [
        _metric_from_proto(tp_id, f"metrics[{index}]", metric)
        for index, metric in enumerate(message.metrics)
    ]
    targeting: Any = _from_key_values(tp_id, "targeting", message.targeting)
    return model.TracePoint(
        id=tp_id,
        path=message.path,
        line=message.line_number,
        args=dict(message.args),
        watches=tuple(message.watches),
        metrics=metrics,
        targeting=targeting,
    )


def _metric_from_proto(tp_id: str, field: str, metric: Any) -> dict[str, object]:
    try:
        metric_type: object = tracepoint_pb2.MetricType.Name(metric.type)
    except ValueError:
        metric_type = metric.type
    labels = []
    for index, label in enumerate(metric.labelExpressions):
        case = label.WhichOneof("value")
        entry: dict[str, object] = {"key": label.key}
        if case == "static":
            entry["static"] = _from_any_value(
                tp_id, f"{field}.labels[{index}].static", label.static
            )
        elif case == "expression":
            entry["expression"] = label.expression
        labels.append(entry)
    data: dict[str, object] = {"name": metric.name, "type": metric_type, "labels": labels}
    for name in _OPTIONAL_METRIC_FIELDS:
        if metric.HasField(name):
            data[name] = getattr(metric, name)
    return data


def _from_any_value(tp_id: str, field: str, value: Any) -> object:
    case = value.WhichOneof("value")
    if case is None:
        raise InvalidTracePoint(tp_id, field, None, "AnyValue has no value set")
    if case == "array_value":
        return tuple(
            _from_any_value(tp_id, f"{field}[{index}]", item)
            for index, item in enumerate(value.array_value.values)
        )
    if case == "kvlist_value":
        return _from_key_values(tp_id, field, value.kvlist_value.values)
    result: object = getattr(value, case)
    return result


def _from_key_values(tp_id: str, field: str, key_values: Any) -> dict[str, object]:
    result: dict[str, object] = {}
    for key_value in key_values:
        where = f"{field}.{key_value.key}"
        if key_value.key in result:
            raise InvalidTracePoint(tp_id, where, key_value.key, "duplicate key")
        if not key_value.HasField("value"):
            raise InvalidTracePoint(tp_id, where, None, "has no value")
        result[key_value.key] = _from_any_value(tp_id, where, key_value.value)
    return result
