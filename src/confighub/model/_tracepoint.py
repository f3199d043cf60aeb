"""``TracePoint``: one tracepoint of a config, validated on construction.

Like the metric types, it is frozen and slotted, validates itself on
construction and normalizes what it is given (mappings become ``FrozenMap``,
sequences tuples), so an instance that exists is a valid one. Conversions to
and from dicts and Deep's protobuf messages live in ``_codec``, the canonical
form behind its ``digest`` in ``_canonical``, the rules in ``_validate``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias, cast

from confighub.exceptions import InvalidTracePoint
from confighub.model import _codec
from confighub.model._canonical import canonical_digest
from confighub.model._frozen import FrozenMap
from confighub.model._metric import MetricDefinition, Scalar
from confighub.model._validate import (
    check_args,
    check_line,
    check_list,
    check_target_map,
    check_text,
    nested,
    parse_int_arg,
)

__all__ = ["Action", "TargetValue", "TracePoint"]

#: A targeting value: a scalar, or a sequence or mapping of targeting values. Any
#: list given becomes a tuple and any mapping a ``FrozenMap``, so that is what reads back.
TargetValue: TypeAlias = Scalar | Sequence["TargetValue"] | Mapping[str, "TargetValue"]


class Action(enum.StrEnum):
    """What a tracepoint makes an agent do when it fires."""

    SNAPSHOT = "snapshot"
    LOG = "log"
    METRIC = "metric"
    SPAN = "span"


_NO_ARGS: FrozenMap[str, str] = FrozenMap()
_NO_TARGETING: FrozenMap[str, TargetValue] = FrozenMap()
# The frozen dataclass forbids plain assignment; looked up once, not on every field set.
_setattr = object.__setattr__


@dataclass(frozen=True, slots=True, init=False)
class TracePoint:
    """One tracepoint: where it is, what it collects, and which resources it targets.

    ``args`` holds Deep's string-valued settings; the well-known ones are read,
    typed and defaulted through the properties below, unknown ones are kept as
    they are. ``metrics`` may hold any metric-like objects (see
    ``MetricDefinition.from_object``) and ``targeting`` lists and dicts: they are
    stored as ``MetricDefinition``, tuples and ``FrozenMap``. Construction validates
    every field and raises ``InvalidTracePoint`` naming this id, the field and the value.
    """

    id: str
    path: str
    line: int
    args: Mapping[str, str]
    watches: Sequence[str]
    metrics: Sequence[MetricDefinition]
    targeting: Mapping[str, TargetValue]
    # The canonical digest, filled in on first use by ``digest``. Not a field of the
    # value: out of init, repr and equality.
    _digest: bytes | None = field(default=None, init=False, repr=False, compare=False)

    # A hand-written __init__ (like MetricDefinition's) rather than the dataclass one and a
    # __post_init__: that pair set every field twice, and replaying a tape builds many
    # tracepoints. It keeps the dataclass signature, every field by position too.
    def __init__(  # noqa: PLR0917
        self,
        id: str,
        path: str,
        line: int,
        args: Mapping[str, str] = _NO_ARGS,
        watches: Sequence[str] = (),
        metrics: Sequence[MetricDefinition] = (),
        targeting: Mapping[str, TargetValue] = _NO_TARGETING,
    ) -> None:
        tp_id = check_text(id, "id", id)
        checked_path = check_text(tp_id, "path", path)
        checked_line = check_line(tp_id, line)
        checked_args = check_args(tp_id, args)
        checked_watches = _watches(tp_id, watches)
        checked_metrics = _metrics(tp_id, metrics)
        checked_targeting = check_target_map(tp_id, "targeting", targeting)
        _setattr(self, "id", tp_id)
        _setattr(self, "path", checked_path)
        _setattr(self, "line", checked_line)
        _setattr(self, "args", checked_args)
        _setattr(self, "watches", checked_watches)
        _setattr(self, "metrics", checked_metrics)
        _setattr(self, "targeting", checked_targeting)
        _setattr(self, "_digest", None)

    @property
    def digest(self) -> bytes:
        """The SHA-256 of this tracepoint's canonical form, which ``config_hash`` combines.

        Computed on first use and kept: the tracepoint is immutable, and hubs rehash
        mostly unchanged configs. Two threads racing here store the same bytes.
        """
        digest = self._digest
        if digest is None:
            digest = canonical_digest(self)
            _setattr(self, "_digest", digest)
        return digest

    def _int_arg(self, name: str, default: int) -> int:
        text = self.args.get(name)
        number = None if text is None else parse_int_arg(text)
        return default if number is None else number

    @property
    def fire_count(self) -> int:
        """How many times the tracepoint may fire; -1 means unlimited (default 1)."""
        return self._int_arg("fire_count", 1)

    @property
    def fire_period(self) -> int:
        """The least time between two fires, in milliseconds (default 1000)."""
        return self._int_arg("fire_period", 1000)

    @property
    def window_start(self) -> int:
        """When the tracepoint starts to fire, in ms since the epoch; 0 means open."""
        return self._int_arg("window_start", 0)

    @property
    def window_end(self) -> int:
        """When the tracepoint stops firing, in ms since the epoch; 0 means open."""
        return self._int_arg("window_end", 0)

    @property
    def condition(self) -> str | None:
        """The expression that must hold for the tracepoint to fire, if any."""
        return self.args.get("condition")

    @property
    def log_msg(self) -> str | None:
        """The log message template, if any."""
        return self.args.get("log_msg")

    @property
    def snapshot(self) -> str:
        """``collect`` (default) or ``no_collect``."""
        return self.args.get("snapshot", "collect")

    @property
    def method_name(self) -> str | None:
        """The method a method tracepoint wraps, if any."""
        return self.args.get("method_name")

    @property
    def span(self) -> str | None:
        """``line`` or ``method`` when the tracepoint creates a span, else None."""
        return self.args.get("span")

    @property
    def stage(self) -> str:
        """When the tracepoint fires; defaults to ``method_start`` for method tracepoints."""
        if "stage" in self.args:
            return self.args["stage"]
        is_method = self.method_name is not None or self.span == "method"
        return "method_start" if is_method else "line_start"

    @property
    def frame_type(self) -> str:
        """``single_frame`` (default), ``all_frame`` or ``no_frame``."""
        return self.args.get("frame_type", "single_frame")

    @property
    def stack_type(self) -> str:
        """``stack`` (default) or ``no_stack``."""
        return self.args.get("stack_type", "stack")

    @property
    def actions(self) -> frozenset[Action]:
        """What firing does: snapshot, log (with ``no_collect``), metric, span."""
        actions = set()
        if self.snapshot != "no_collect":
            actions.add(Action.SNAPSHOT)
        elif self.log_msg is not None:
            actions.add(Action.LOG)
        if self.metrics:
            actions.add(Action.METRIC)
        if self.span is not None:
            actions.add(Action.SPAN)
        return frozenset(actions)

    def to_dict(self) -> dict[str, Any]:
        """Return the file-format dict of this tracepoint, empty collections left out."""
        return _codec.tracepoint_to_dict(self)

    @classmethod
    def from_dict(cls, data: object) -> TracePoint:
        """Build a tracepoint from its file-format dict.

        ``id`` defaults to ``"{path}:{line}"``. YAML scalars in ``args`` become strings
        (booleans ``"true"``/``"false"``); nested values there, unknown keys and a
        ``line`` that is not an integer raise ``InvalidTracePoint``. A null collection
        counts as an empty one.
        """
        return cls(*_codec.fields_from_dict(data))

    def to_proto(self) -> Any:
        """Return deep-proto's ``TracePointConfig`` message for this tracepoint."""
        return _codec.tracepoint_to_proto(self)

    @classmethod
    def from_proto(cls, message: Any) -> TracePoint:
        """Build a tracepoint from deep-proto's ``TracePointConfig``; validates like the model."""
        return cls(*_codec.fields_from_proto(message))

    def to_json(self) -> dict[str, Any]:
        """Return protobuf's JSON mapping of ``to_proto()``, as Deep's HTTP API speaks it."""
        return _codec.tracepoint_to_json(self)

    @classmethod
    def from_json(cls, data: object, *, default_id: str | None = None) -> TracePoint:
        """Build a tracepoint from protobuf's JSON mapping of ``TracePointConfig``.

        Field names may be the JSON ones or the proto ones (``lineNumber`` or
        ``line_number``); unknown fields and values of the wrong type raise
        ``InvalidTracePoint``, as do the model's own rules. A tracepoint without
        ``ID`` gets ``default_id``, if given.
        """
        return cls(*_codec.fields_from_json(data, default_id))


def _watches(tp_id: str, watches: object) -> tuple[str, ...]:
    # No watches, the usual case, needs no checks and no loop. The type test first: ``not``
    # is not safe on any iterable (a numpy array refuses it).
    if (type(watches) is tuple or type(watches) is list) and not watches:
        return ()
    check_list(tp_id, "watches", watches)
    # A plain non-empty str is kept as it is without a call; anything else goes to check_text,
    # which normalizes it or names the bad item.
    return tuple(
        watch if type(watch) is str and watch else check_text(tp_id, f"watches[{index}]", watch)
        for index, watch in enumerate(cast(Iterable[object], watches))
    )


def _metrics(tp_id: str, metrics: object) -> tuple[MetricDefinition, ...]:
    # No metrics, the usual case, as for watches.
    if (type(metrics) is tuple or type(metrics) is list) and not metrics:
        return ()
    check_list(tp_id, "metrics", metrics)
    result = []
    for index, metric in enumerate(cast(Iterable[object], metrics)):
        try:
            result.append(MetricDefinition.from_object(metric))
        except InvalidTracePoint as err:
            raise nested(err, tp_id, f"metrics[{index}]", "metric") from err
    return tuple(result)
