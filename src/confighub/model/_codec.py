"""Conversions of a ``TracePoint`` to and from its dict (file), protobuf (wire) and JSON forms.

Every direction is lossless: ``from_dict(to_dict(tp)) == tp``,
``from_proto(to_proto(tp)) == tp`` and ``from_json(to_json(tp)) == tp``. The JSON
form is protobuf's JSON mapping of the wire message, the one Deep's HTTP API
and its Grafana datasource speak (``ID``, ``lineNumber`` or ``line_number``…).
The proto's optional metric fields are read with ``HasField`` so that an unset
field (None) and an empty one (``""``) stay apart.

Reading gives the tracepoint's fields, in the order of its constructor, for
``TracePoint.from_dict``/``from_proto`` to validate: this module reads tracepoints
without importing the class it builds. ``AnyValue`` goes through the one codec
in ``confighub._wire.anyvalue``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from deepproto.proto.tracepoint.v1 import tracepoint_pb2
from google.protobuf import json_format

from confighub._wire import anyvalue
from confighub.exceptions import InvalidTracePoint

if TYPE_CHECKING:
    from confighub.model._metric import MetricDefinition
    from confighub.model._tracepoint import TracePoint

__all__ = [
    "Fields",
    "fields_from_dict",
    "fields_from_json",
    "fields_from_proto",
    "tracepoint_to_dict",
    "tracepoint_to_json",
    "tracepoint_to_proto",
]

Fields = tuple[Any, Any, Any, Any, Any, Any, Any]
"""``(id, path, line, args, watches, metrics, targeting)``, still to be validated."""

_TRACEPOINT_KEYS = ("id", "path", "line", "args", "watches", "metrics", "targeting")
_KNOWN_KEYS = frozenset(_TRACEPOINT_KEYS)
_OPTIONAL_METRIC_FIELDS = ("expression", "namespace", "help", "unit")
# Deeper than any real tracepoint (an AnyValue of lists of maps), far below Python's recursion.
_JSON_DEPTH = 32
_UNKNOWN_FIELD = re.compile(r'has no field named "([^"]{0,200})"')
_FAILED_FIELD = re.compile(r"Failed to parse (\w{1,100}) field")


def tracepoint_to_dict(tp: TracePoint) -> dict[str, Any]:
    """Return the file-format dict of ``tp``: plain dicts and lists, empty collections omitted."""
    data: dict[str, Any] = {"id": tp.id, "path": tp.path, "line": tp.line}
    if tp.args:
        data["args"] = dict(tp.args)
    if tp.watches:
        data["watches"] = list(tp.watches)
    if tp.metrics:
        data["metrics"] = [_metric_to_dict(metric) for metric in tp.metrics]
    if tp.targeting:
        data["targeting"] = _builtin(tp.targeting)
    return data


def _metric_to_dict(metric: MetricDefinition) -> dict[str, Any]:
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


def _builtin(value: object) -> object:
    # FrozenMap and tuple values as the dicts and lists a YAML or JSON writer takes.
    if isinstance(value, Mapping):
        return {key: _builtin(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_builtin(item) for item in value]
    return value


def fields_from_dict(data: object) -> Fields:
    """The fields of a tracepoint's file-format dict (see ``TracePoint.from_dict``)."""
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
    return (
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


def tracepoint_to_proto(tp: TracePoint) -> Any:
    """Return deep-proto's ``TracePointConfig`` for ``tp``."""
    return tracepoint_pb2.TracePointConfig(
        ID=tp.id,
        path=tp.path,
        line_number=tp.line,
        args=dict(tp.args),
        watches=list(tp.watches),
        targeting=anyvalue.encode_key_values(tp.targeting),
        metrics=[_metric_to_proto(metric) for metric in tp.metrics],
    )


def _metric_to_proto(metric: MetricDefinition) -> Any:
    optional = {
        field: getattr(metric, field)
        for field in _OPTIONAL_METRIC_FIELDS
        if getattr(metric, field) is not None
    }
    labels = [
        tracepoint_pb2.LabelExpression(key=label.key, static=anyvalue.encode(label.static))
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


def tracepoint_to_json(tp: TracePoint) -> dict[str, Any]:
    """Return protobuf's JSON mapping of ``tp``'s ``TracePointConfig`` (lowerCamelCase names)."""
    data: dict[str, Any] = json_format.MessageToDict(tracepoint_to_proto(tp))
    return data


def fields_from_json(data: object, default_id: str | None = None) -> Fields:
    """The fields of a ``TracePointConfig`` in protobuf's JSON mapping (``TracePoint.from_json``).

    Unknown fields and values of the wrong type raise ``InvalidTracePoint``;
    ``default_id`` is the id of a tracepoint that names none.
    """
    if not isinstance(data, dict):
        raise InvalidTracePoint(None, "tracepoint", data, "must be a JSON object")
    tp_id = data.get("ID")
    message = tracepoint_pb2.TracePointConfig()
    try:
        json_format.ParseDict(data, message, max_recursion_depth=_JSON_DEPTH)
    except (json_format.ParseError, RecursionError, TypeError, ValueError) as err:
        raise _json_error(tp_id, data, err) from None
    if not message.ID and default_id is not None:
        message.ID = default_id
    return fields_from_proto(message)


def _json_error(tp_id: object, data: Mapping[Any, Any], err: Exception) -> InvalidTracePoint:
    # protobuf names the field in its own words: say it in the model's (field, value, reason).
    said = str(err)
    unknown = _UNKNOWN_FIELD.search(said)
    if unknown is not None:
        name = unknown.group(1)
        known = ", ".join(tracepoint_pb2.TracePointConfig.DESCRIPTOR.fields_by_camelcase_name)
        return InvalidTracePoint(
            tp_id, name, data.get(name), f"is not a field of a tracepoint (its fields: {known})"
        )
    failed = _FAILED_FIELD.search(said)
    if failed is not None:
        name = failed.group(1)
        reason = said.partition(f"{name} field: ")[2] or said
        return InvalidTracePoint(tp_id, name, data.get(name, _field_value(data, name)), reason)
    if isinstance(err, RecursionError):
        said = f"is nested more than {_JSON_DEPTH} levels deep"
    return InvalidTracePoint(tp_id, "tracepoint", None, said)


def _field_value(data: Mapping[Any, Any], json_name: str) -> object:
    # The proto name of a JSON name: lineNumber is line_number.
    for field in tracepoint_pb2.TracePointConfig.DESCRIPTOR.fields:
        if field.json_name == json_name and field.name in data:
            return data[field.name]
    return None


def fields_from_proto(message: Any) -> Fields:
    """The fields of deep-proto's ``TracePointConfig`` (see ``TracePoint.from_proto``)."""
    tp_id = message.ID
    # Plain dicts rather than model objects, so that the model validates them and
    # names this tracepoint in its errors.
    metrics: list[Any] = [
        _metric_from_proto(tp_id, f"metrics[{index}]", metric)
        for index, metric in enumerate(message.metrics)
    ]
    try:
        targeting = anyvalue.decode_key_values(message.targeting)
    except anyvalue.AnyValueError as err:
        raise _invalid(tp_id, "targeting", err) from None
    return (
        tp_id,
        message.path,
        message.line_number,
        dict(message.args),
        tuple(message.watches),
        metrics,
        targeting,
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
            where = f"{field}.labels[{index}].static"
            try:
                entry["static"] = anyvalue.decode(label.static)
            except anyvalue.AnyValueError as err:
                raise _invalid(tp_id, where, err) from None
        elif case == "expression":
            entry["expression"] = label.expression
        labels.append(entry)
    data: dict[str, object] = {"name": metric.name, "type": metric_type, "labels": labels}
    for name in _OPTIONAL_METRIC_FIELDS:
        if metric.HasField(name):
            data[name] = getattr(metric, name)
    return data


def _invalid(tp_id: str, field: str, err: anyvalue.AnyValueError) -> InvalidTracePoint:
    return InvalidTracePoint(tp_id, f"{field}{err.where}", err.value, err.reason)
