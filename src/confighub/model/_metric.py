"""Metric definitions: what a tracepoint records as a metric, as in deep-proto's ``Metric``.

Re-exported by ``confighub.model`` (and the root package), where users import them from.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias, cast

from confighub.exceptions import InvalidTracePoint
from confighub.model._validate import (
    check_list,
    check_optional_text,
    check_scalar,
    check_text,
    nested,
)

__all__ = ["LabelExpression", "MetricDefinition", "MetricType", "Scalar"]

#: A value that fits one of the scalar cases of Deep's ``common.v1.AnyValue``.
Scalar: TypeAlias = str | bool | int | float | bytes


class MetricType(enum.StrEnum):
    """The kind of a metric, named and ordered as deep-proto's ``MetricType``."""

    COUNTER = "COUNTER"
    GAUGE = "GAUGE"
    HISTOGRAM = "HISTOGRAM"
    SUMMARY = "SUMMARY"


_LABEL_FIELDS = ("key", "static", "expression")


@dataclass(frozen=True, slots=True)
class LabelExpression:
    """A metric label: its value is either ``static`` or computed from ``expression``."""

    key: str
    static: Scalar | None = None
    expression: str | None = None

    def __post_init__(self) -> None:
        key = check_text(None, "key", self.key)
        if (self.static is None) == (self.expression is None):
            raise InvalidTracePoint(
                None,
                "label",
                {"key": key, "static": self.static, "expression": self.expression},
                "exactly one of static and expression must be set",
            )
        static = None if self.static is None else check_scalar(None, "static", self.static)
        expression = (
            None if self.expression is None else check_text(None, "expression", self.expression)
        )
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "static", static)
        object.__setattr__(self, "expression", expression)

    @classmethod
    def from_object(cls, obj: object) -> LabelExpression:
        """Convert a label-like object: ours, a mapping, or one with the same attributes."""
        if isinstance(obj, LabelExpression):
            return obj
        if isinstance(obj, Mapping):
            for name in obj:
                if name not in _LABEL_FIELDS:
                    raise InvalidTracePoint(None, str(name), obj[name], "is not a label field")
            values: dict[str, Any] = {name: obj.get(name) for name in _LABEL_FIELDS}
            return cls(**values)
        if hasattr(obj, "key"):
            return cls(obj.key, getattr(obj, "static", None), getattr(obj, "expression", None))
        raise InvalidTracePoint(None, "label", obj, "is not a label (no key)")


_METRIC_FIELDS = ("name", "type", "labels", "expression", "namespace", "help", "unit")


@dataclass(frozen=True, slots=True, init=False)
class MetricDefinition:
    """A metric a tracepoint records, as in deep-proto's ``Metric`` message.

    ``type`` may be given as a ``MetricType`` or its name in any case; ``labels``
    as any iterable of label-like objects (see ``LabelExpression.from_object``).
    The four optional strings are keyword-only: all of type ``str``, they are too
    easy to swap by position.
    """

    name: str
    type: MetricType
    labels: tuple[LabelExpression, ...]
    expression: str | None
    namespace: str | None
    help: str | None
    unit: str | None

    def __init__(
        self,
        name: str,
        type: MetricType | str = MetricType.COUNTER,
        labels: Iterable[object] | None = (),
        *,
        expression: str | None = None,
        namespace: str | None = None,
        help: str | None = None,
        unit: str | None = None,
    ) -> None:
        checked = {
            "name": check_text(None, "name", name),
            "type": _metric_type(type),
            "labels": _labels(labels),
            "expression": check_optional_text(None, "expression", expression),
            "namespace": check_optional_text(None, "namespace", namespace),
            "help": check_optional_text(None, "help", help),
            "unit": check_optional_text(None, "unit", unit),
        }
        for attr, value in checked.items():
            object.__setattr__(self, attr, value)

    @classmethod
    def from_object(cls, obj: object) -> MetricDefinition:
        """Convert a metric-like object: ours, a mapping, or one with the same attributes.

        The Deep agent's ``MetricDefinition`` (``type`` a name such as ``"COUNTER"``,
        labels with ``key``/``static``/``expression``) converts as it is.
        """
        if isinstance(obj, MetricDefinition):
            return obj
        if isinstance(obj, Mapping):
            for name in obj:
                if name not in _METRIC_FIELDS:
                    raise InvalidTracePoint(None, str(name), obj[name], "is not a metric field")
            if "name" not in obj:
                raise InvalidTracePoint(None, "name", None, "is required")
            return cls(**obj)
        if hasattr(obj, "name"):
            values: dict[str, Any] = {name: getattr(obj, name, None) for name in _METRIC_FIELDS}
            values["type"] = values["type"] or MetricType.COUNTER
            return cls(**values)
        raise InvalidTracePoint(None, "metric", obj, "is not a metric (no name)")


def _metric_type(value: object) -> MetricType:
    if isinstance(value, MetricType):
        return value
    if isinstance(value, str) and value.upper() in MetricType.__members__:
        return MetricType[value.upper()]
    raise InvalidTracePoint(None, "type", value, f"must be one of {', '.join(MetricType)}")


def _labels(labels: object) -> tuple[LabelExpression, ...]:
    if labels is None:
        return ()
    check_list(None, "labels", labels)
    result = []
    for index, label in enumerate(cast(Iterable[object], labels)):
        try:
            result.append(LabelExpression.from_object(label))
        except InvalidTracePoint as err:
            raise nested(err, None, f"labels[{index}]", "label") from err
    return tuple(result)
