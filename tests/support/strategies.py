"""Hypothesis strategies for valid tracepoints and configs, shared by the test modules.

``tracepoints()`` draws any valid ``TracePoint`` (every well-known arg, unknown
args, metrics with labels, nested targeting values); ``configs()`` draws lists
of them with unique ids, as a server would send.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from confighub.model import LabelExpression, MetricDefinition, MetricType, TracePoint

__all__ = [
    "WELL_KNOWN_ARGS",
    "args_maps",
    "configs",
    "label_expressions",
    "metric_definitions",
    "scalars",
    "target_values",
    "texts",
    "tracepoints",
]

#: The args the model reads; any other key is an unknown arg, kept as it is.
WELL_KNOWN_ARGS = frozenset(
    {
        "fire_count",
        "fire_period",
        "window_start",
        "window_end",
        "condition",
        "log_msg",
        "snapshot",
        "stage",
        "method_name",
        "span",
        "frame_type",
        "stack_type",
    }
)


def texts(*, min_size: int = 0, max_size: int = 12) -> st.SearchStrategy[str]:
    """Strings that protobuf accepts (valid UTF-8, so no lone surrogates)."""
    return st.text(st.characters(codec="utf-8"), min_size=min_size, max_size=max_size)


def scalars() -> st.SearchStrategy[str | bool | int | float | bytes]:
    """Values of the scalar cases of ``AnyValue``: str, bool, int64, finite float, bytes."""
    return st.one_of(
        texts(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.binary(max_size=8),
    )


def target_values() -> st.SearchStrategy[Any]:
    """Targeting values as a user writes them: scalars, lists and dicts, nested."""
    return st.recursive(
        scalars(),
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(texts(), children, max_size=3)
        ),
        max_leaves=6,
    )


@st.composite
def _windows(draw: st.DrawFn) -> dict[str, str]:
    start = draw(st.integers(min_value=0, max_value=2**53))
    end = draw(st.integers(min_value=0, max_value=2**53))
    if start and end and end < start:
        start, end = end, start
    return {"window_start": str(start), "window_end": str(end)}


def args_maps() -> st.SearchStrategy[dict[str, str]]:
    """Valid args: any subset of the well-known args plus a few unknown ones."""
    choices = {
        "snapshot": ["collect", "no_collect"],
        "stage": [
            "line_start",
            "line_end",
            "line_capture",
            "method_start",
            "method_end",
            "method_capture",
        ],
        "span": ["line", "method"],
        "frame_type": ["single_frame", "all_frame", "no_frame"],
        "stack_type": ["stack", "no_stack"],
    }
    optional: dict[str, st.SearchStrategy[str]] = {
        name: st.sampled_from(values) for name, values in choices.items()
    }
    optional |= {
        "fire_count": st.integers(min_value=-1, max_value=10**6).map(str),
        "fire_period": st.integers(min_value=0, max_value=10**7).map(str),
        "condition": texts(),
        "log_msg": texts(),
        "method_name": texts(min_size=1),
    }
    known = st.fixed_dictionaries({}, optional=optional)
    windows: st.SearchStrategy[dict[str, str]] = st.just({}) | _windows()
    unknown = st.dictionaries(
        texts().filter(lambda key: key not in WELL_KNOWN_ARGS), texts(), max_size=2
    )
    return st.builds(lambda a, b, c: {**c, **a, **b}, known, windows, unknown)


def label_expressions() -> st.SearchStrategy[LabelExpression]:
    """Labels with either a static scalar value or an expression."""
    return st.builds(LabelExpression, key=texts(min_size=1), static=scalars()) | st.builds(
        LabelExpression, key=texts(min_size=1), expression=texts(min_size=1)
    )


def metric_definitions() -> st.SearchStrategy[MetricDefinition]:
    """Metrics of every type, with labels and each optional string unset, empty or set."""
    optional = st.none() | texts()
    return st.builds(
        MetricDefinition,
        name=texts(min_size=1),
        type=st.sampled_from(MetricType),
        labels=st.lists(label_expressions(), max_size=3),
        expression=optional,
        namespace=optional,
        help=optional,
        unit=optional,
    )


def tracepoints(ids: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[TracePoint]:
    """Valid tracepoints; ``ids`` overrides the strategy for their ids."""
    return st.builds(
        TracePoint,
        id=texts(min_size=1) if ids is None else ids,
        path=texts(min_size=1),
        line=st.integers(min_value=0, max_value=2**32 - 1),
        args=args_maps(),
        watches=st.lists(texts(min_size=1), max_size=3),
        metrics=st.lists(metric_definitions(), max_size=2),
        targeting=st.dictionaries(texts(), target_values(), max_size=3),
    )


def configs(*, min_size: int = 0, max_size: int = 8) -> st.SearchStrategy[list[TracePoint]]:
    """Lists of valid tracepoints with unique ids."""
    return st.lists(tracepoints(), min_size=min_size, max_size=max_size, unique_by=lambda tp: tp.id)
