"""The tracepoint model: FrozenMap, validation, defaults, actions and the config hash."""

from __future__ import annotations

import dataclasses
import enum
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from confighub import InvalidTracePoint
from confighub.model import (
    Action,
    FrozenMap,
    LabelExpression,
    MetricDefinition,
    MetricType,
    TracePoint,
    config_hash,
    tracepoint_digest,
)
from tests.support.strategies import configs, metric_definitions, target_values, texts, tracepoints


def tp(**args: str) -> TracePoint:
    return TracePoint("tp-1", "shop/cart.py", 12, args=args)


# FrozenMap


def test_frozen_map_equals_any_mapping_with_the_same_items() -> None:
    """A FrozenMap equals a dict or another FrozenMap with the same items, whatever their order."""
    frozen = FrozenMap({"a": "1", "b": "2"})
    assert frozen == {"b": "2", "a": "1"}
    assert frozen == FrozenMap([("b", "2"), ("a", "1")])
    assert frozen != {"a": "1"}
    assert frozen != [("a", "1"), ("b", "2")]


def test_frozen_map_hash_ignores_insertion_order() -> None:
    """Equal FrozenMaps hash equally, so they work as set members and dict keys."""
    first, second = FrozenMap({"a": "1", "b": "2"}), FrozenMap({"b": "2", "a": "1"})
    assert hash(first) == hash(second)
    assert len({first, second}) == 1
    assert {first: "x"}[second] == "x"


def test_frozen_map_keeps_a_private_copy() -> None:
    """Mutating the dict a FrozenMap was built from does not change it."""
    source = {"a": "1"}
    frozen = FrozenMap(source)
    source["a"] = "2"
    source["b"] = "3"
    assert dict(frozen) == {"a": "1"}


def test_frozen_map_cannot_be_mutated() -> None:
    """Item assignment, deletion and attribute assignment all fail."""
    frozen: Any = FrozenMap({"a": "1"})
    with pytest.raises(TypeError):
        frozen["a"] = "2"
    with pytest.raises(TypeError):
        del frozen["a"]
    with pytest.raises(AttributeError):
        frozen._data = {}
    assert frozen == {"a": "1"}


def test_frozen_map_reads_like_a_mapping() -> None:
    """len, iter, in, get, keys, values and items behave as on a dict."""
    frozen = FrozenMap({"a": "1", "b": "2"})
    assert len(frozen) == 2
    assert list(frozen) == ["a", "b"]
    assert "a" in frozen
    assert "z" not in frozen
    assert frozen.get("a") == "1"
    assert frozen.get("z") is None
    assert frozen.get("z", "d") == "d"
    assert list(frozen.keys()) == ["a", "b"]
    assert list(frozen.values()) == ["1", "2"]
    assert list(frozen.items()) == [("a", "1"), ("b", "2")]


def test_frozen_map_repr_and_pickle() -> None:
    """The repr reads like the constructor call, and a pickled FrozenMap comes back equal."""
    frozen = FrozenMap({"a": "1"})
    assert repr(frozen) == "FrozenMap({'a': '1'})"
    assert repr(FrozenMap()) == "FrozenMap({})"
    copy = pickle.loads(pickle.dumps(frozen))
    assert copy == frozen
    assert isinstance(copy, FrozenMap)


# Enums and metrics


def test_metric_type_matches_deep_proto_names_and_order() -> None:
    """MetricType has deep-proto's names in deep-proto's numeric order."""
    from deepproto.proto.tracepoint.v1 import tracepoint_pb2

    assert [tracepoint_pb2.MetricType.Name(number) for number in range(4)] == list(MetricType)
    assert [action.value for action in Action] == ["snapshot", "log", "metric", "span"]


@pytest.mark.parametrize(
    "given_type", ["histogram", "HISTOGRAM", "Histogram", MetricType.HISTOGRAM]
)
def test_metric_type_accepts_names_in_any_case(given_type: str) -> None:
    """A metric's type may be a MetricType or its name in any case; it is stored as MetricType."""
    metric = MetricDefinition("latency", given_type)
    assert metric.type is MetricType.HISTOGRAM


@pytest.mark.parametrize("bad_type", ["histo", "", None, 2])
def test_metric_type_rejects_unknown_types(bad_type: Any) -> None:
    """An unknown metric type is an error naming the field 'type' and the value."""
    with pytest.raises(InvalidTracePoint) as caught:
        MetricDefinition("latency", bad_type)
    assert (caught.value.field, caught.value.value) == ("type", bad_type)


def test_metric_labels_are_normalized_to_a_tuple() -> None:
    """Labels given as a list of mappings and objects become a tuple of LabelExpression."""
    metric = MetricDefinition(
        "orders",
        labels=[{"key": "region", "static": "eu"}, LabelExpression("user", expression="u")],
    )
    assert metric.labels == (
        LabelExpression("region", static="eu"),
        LabelExpression("user", expression="u"),
    )
    assert metric.type is MetricType.COUNTER


@pytest.mark.parametrize(
    ("label", "field"),
    [
        ({"key": "k"}, "label"),
        ({"key": "k", "static": "s", "expression": "e"}, "label"),
        ({"key": "", "static": "s"}, "key"),
        ({"key": "k", "expression": ""}, "expression"),
        ({"key": "k", "static": [1]}, "static"),
        ({"key": "k", "static": float("nan")}, "static"),
    ],
)
def test_label_needs_a_key_and_exactly_one_value(label: dict[str, Any], field: str) -> None:
    """A label with no key, no value, two values or a non-scalar static is rejected."""
    with pytest.raises(InvalidTracePoint) as caught:
        LabelExpression.from_object(label)
    assert caught.value.field == field
    assert caught.value.tracepoint_id is None


def test_metric_from_object_converts_deep_agent_metrics() -> None:
    """The Deep agent's MetricDefinition (type a name, labels with attributes) converts as is."""
    from deep.api.tracepoint import tracepoint_config as deep

    theirs = deep.MetricDefinition(
        "orders",
        "SUMMARY",
        [deep.LabelExpression("region", static="eu"), deep.LabelExpression("u", expression="u.id")],
        expression="total",
        namespace="shop",
        help_str="Orders placed.",
        unit="1",
    )
    ours = MetricDefinition.from_object(theirs)
    assert ours == MetricDefinition(
        "orders",
        MetricType.SUMMARY,
        (LabelExpression("region", static="eu"), LabelExpression("u", expression="u.id")),
        expression="total",
        namespace="shop",
        help="Orders placed.",
        unit="1",
    )
    assert MetricDefinition.from_object(ours) is ours


@pytest.mark.parametrize(
    ("metric", "field"),
    [
        ({"name": ""}, "name"),
        ({"type": "GAUGE"}, "name"),
        ({"name": "m", "colour": "red"}, "colour"),
        ({"name": "m", "unit": 5}, "unit"),
        ({"name": "m", "labels": "region"}, "labels"),
        (42, "metric"),
    ],
)
def test_metric_from_object_rejects_bad_metrics(metric: object, field: str) -> None:
    """A metric without a name, with an unknown key or a bad field is rejected naming the field."""
    with pytest.raises(InvalidTracePoint) as caught:
        MetricDefinition.from_object(metric)
    assert caught.value.field == field


# TracePoint validation


def test_tracepoint_normalizes_its_collections() -> None:
    """Args and targeting become FrozenMaps, watches and metrics tuples, nested lists tuples."""
    args = {"fire_count": "3"}
    point = TracePoint(
        id="tp-1",
        path="shop/cart.py",
        line=7,
        args=args,
        watches=["cart", "cart.total"],
        metrics=[MetricDefinition.from_object({"name": "adds"})],
        targeting={"service": "shop", "zones": ["a", "b"], "labels": {"tier": 1}},
    )
    args["fire_count"] = "4"
    assert isinstance(point.args, FrozenMap)
    assert point.args == {"fire_count": "3"}
    assert point.watches == ("cart", "cart.total")
    assert point.metrics == (MetricDefinition("adds"),)
    assert point.targeting["zones"] == ("a", "b")
    assert isinstance(point.targeting["labels"], FrozenMap)
    assert hash(point) == hash(dataclasses.replace(point))


def test_tracepoint_turns_string_subclasses_into_plain_strings() -> None:
    """StrEnum members in args and targeting are stored as exact str, as the writers need."""

    class Colour(enum.StrEnum):
        RED = "red"

    point = TracePoint(
        "tp-1", "p.py", 1, args={Colour.RED: Colour.RED}, targeting={"c": Colour.RED}
    )
    ((key, value),) = point.args.items()
    assert (type(key), type(value), type(point.targeting["c"])) == (str, str, str)


def test_tracepoint_is_immutable_and_hashable() -> None:
    """Fields cannot be reassigned and equal tracepoints are one set member."""
    point = tp(fire_count="2")
    with pytest.raises(dataclasses.FrozenInstanceError):
        point.line = 3  # type: ignore[misc]
    assert len({point, tp(fire_count="2"), tp()}) == 2


BAD_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"id": ""}, "id"),
    ({"id": 7}, "id"),
    ({"path": ""}, "path"),
    ({"path": None}, "path"),
    ({"line": -1}, "line"),
    ({"line": True}, "line"),
    ({"line": "12"}, "line"),
    ({"line": 12.0}, "line"),
    ({"line": 2**32}, "line"),
    ({"args": ["fire_count"]}, "args"),
    ({"args": {1: "x"}}, "args"),
    ({"args": {"condition": 5}}, "args.condition"),
    ({"watches": "total"}, "watches"),
    ({"watches": ["total", 3]}, "watches[1]"),
    ({"watches": [""]}, "watches[0]"),
    ({"metrics": [{"name": "ok"}, {"name": ""}]}, "metrics[1].name"),
    ({"metrics": [{"name": "m", "type": "pie"}]}, "metrics[0].type"),
    ({"metrics": [{"name": "m", "labels": [{"key": "a", "static": 1}, {"key": "b"}]}]},
     "metrics[0].labels[1]"),
    ({"metrics": [{"name": "m", "labels": [{"key": "", "static": 1}]}]},
     "metrics[0].labels[0].key"),
    ({"metrics": {"name": "m"}}, "metrics"),
    ({"targeting": {3: "x"}}, "targeting"),
    ({"targeting": {"service": None}}, "targeting.service"),
    ({"targeting": {"ratio": float("inf")}}, "targeting.ratio"),
    ({"targeting": {"big": 2**63}}, "targeting.big"),
    ({"targeting": {"zones": ["a", object()]}}, "targeting.zones[1]"),
    ({"targeting": "service=shop"}, "targeting"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "field"), BAD_FIELDS)
def test_invalid_fields_name_the_id_field_and_value(change: dict[str, Any], field: str) -> None:
    """Every invalid field raises InvalidTracePoint naming the id, the field and the value."""
    fields: dict[str, Any] = {"id": "tp-9", "path": "shop/cart.py", "line": 12} | change
    with pytest.raises(InvalidTracePoint) as caught:
        TracePoint(**fields)
    err = caught.value
    assert err.field == field
    assert err.tracepoint_id == fields["id"]
    assert repr(fields["id"]) in str(err)
    assert repr(field) in str(err)
    assert isinstance(err, ValueError)


WELL_KNOWN = [
    ("fire_count", ["1", "0", "-1", "1000000"], ["-2", "abc", "", "1.5", " 1", "+1", "\u0661"]),
    ("fire_period", ["0", "1000"], ["-1", "1s", ""]),
    ("window_start", ["0", "1700000000000"], ["-1", "soon"]),
    ("window_end", ["0", "1700000000000"], ["-5", "later"]),
    ("snapshot", ["collect", "no_collect"], ["none", "COLLECT", ""]),
    (
        "stage",
        ["line_start", "line_end", "line_capture", "method_start", "method_end", "method_capture"],
        ["line", "start", ""],
    ),
    ("span", ["line", "method"], ["both", ""]),
    ("frame_type", ["single_frame", "all_frame", "no_frame"], ["all", ""]),
    ("stack_type", ["stack", "no_stack"], ["none", ""]),
    ("method_name", ["checkout"], [""]),
]


@pytest.mark.parametrize(
    ("name", "value"), [(name, value) for name, good, _ in WELL_KNOWN for value in good]
)
def test_well_known_args_accept_valid_values(name: str, value: str) -> None:
    """Every documented value of a well-known arg is accepted and kept as given."""
    assert tp(**{name: value}).args[name] == value


@pytest.mark.parametrize(
    ("name", "value"), [(name, value) for name, _, bad in WELL_KNOWN for value in bad]
)
def test_well_known_args_reject_invalid_values(name: str, value: str) -> None:
    """An invalid well-known arg raises InvalidTracePoint naming id, 'args.<name>' and the value."""
    with pytest.raises(InvalidTracePoint) as caught:
        tp(**{name: value})
    assert (caught.value.tracepoint_id, caught.value.field, caught.value.value) == (
        "tp-1",
        f"args.{name}",
        value,
    )


def test_window_end_must_not_precede_window_start() -> None:
    """A window ending before it starts is rejected; an open start or end is not compared."""
    with pytest.raises(InvalidTracePoint) as caught:
        tp(window_start="2000", window_end="1000")
    assert caught.value.field == "args.window_end"
    assert tp(window_start="2000", window_end="0").window_start == 2000
    assert tp(window_start="0", window_end="1000").window_end == 1000


def test_unknown_args_are_kept() -> None:
    """Args the model does not know are allowed and kept untouched."""
    assert tp(custom="anything at all", fire_count="2").args["custom"] == "anything at all"


# Defaults and actions


def test_well_known_defaults() -> None:
    """A tracepoint without args reads the defaults the Deep agents use."""
    point = tp()
    assert (point.fire_count, point.fire_period, point.window_start, point.window_end) == (
        1,
        1000,
        0,
        0,
    )
    assert (point.condition, point.log_msg, point.method_name, point.span) == (None,) * 4
    assert (point.snapshot, point.stage, point.frame_type, point.stack_type) == (
        "collect",
        "line_start",
        "single_frame",
        "stack",
    )
    assert point.actions == {Action.SNAPSHOT}


def test_well_known_args_are_typed() -> None:
    """Integer args read as ints; string args as given."""
    point = tp(fire_count="-1", fire_period="250", window_start="5", window_end="9", condition="x")
    assert (point.fire_count, point.fire_period, point.window_start, point.window_end) == (
        -1,
        250,
        5,
        9,
    )
    assert point.condition == "x"


@pytest.mark.parametrize(
    ("args", "stage"),
    [
        ({}, "line_start"),
        ({"method_name": "checkout"}, "method_start"),
        ({"span": "method"}, "method_start"),
        ({"span": "line"}, "line_start"),
        ({"method_name": "checkout", "stage": "method_end"}, "method_end"),
        ({"stage": "line_end"}, "line_end"),
    ],
)
def test_stage_default_depends_on_method(args: dict[str, str], stage: str) -> None:
    """Stage defaults to method_start for method tracepoints, line_start otherwise."""
    assert tp(**args).stage == stage


@pytest.mark.parametrize(
    ("args", "metrics", "actions"),
    [
        ({}, (), {Action.SNAPSHOT}),
        ({"log_msg": "hi"}, (), {Action.SNAPSHOT}),
        ({"snapshot": "no_collect"}, (), set()),
        ({"snapshot": "no_collect", "log_msg": "hi"}, (), {Action.LOG}),
        ({"snapshot": "no_collect"}, ({"name": "m"},), {Action.METRIC}),
        ({"span": "line"}, ({"name": "m"},), {Action.SNAPSHOT, Action.METRIC, Action.SPAN}),
        ({"span": "method", "snapshot": "no_collect"}, (), {Action.SPAN}),
    ],
)
def test_actions(args: dict[str, str], metrics: tuple[Any, ...], actions: set[Action]) -> None:
    """Snapshot unless no_collect; log only with no_collect; metric with metrics; span with span."""
    point = TracePoint("tp-1", "p.py", 1, args=args, metrics=metrics)
    assert point.actions == frozenset(actions)


def test_replace_revalidates() -> None:
    """dataclasses.replace builds a new, validated tracepoint."""
    point = tp(fire_count="2")
    assert dataclasses.replace(point, line=40).line == 40
    with pytest.raises(InvalidTracePoint):
        dataclasses.replace(point, args={"fire_count": "-3"})


# Hashing


def _reordered(point: TracePoint) -> TracePoint:
    def reverse(mapping: Any) -> Any:
        if isinstance(mapping, FrozenMap):
            return {key: reverse(mapping[key]) for key in reversed(list(mapping))}
        return mapping

    return dataclasses.replace(
        point,
        args=dict(reversed(list(point.args.items()))),
        targeting=reverse(point.targeting),
    )


@given(configs(), st.randoms(use_true_random=False))
def test_config_hash_ignores_list_and_key_order(config: list[TracePoint], random: Any) -> None:
    """Shuffling the list or reordering args and targeting keys leaves the hash unchanged."""
    shuffled = [_reordered(point) for point in config]
    random.shuffle(shuffled)
    assert config_hash(shuffled) == config_hash(config)
    assert config_hash(tuple(config)) == config_hash(iter(config))


@given(tracepoints())
def test_config_hash_counts_duplicates(point: TracePoint) -> None:
    """A config with a tracepoint twice hashes differently from one with it once."""
    assert config_hash([point, point]) != config_hash([point])
    assert config_hash([point]) != config_hash([])


FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "id": texts(min_size=1),
    "path": texts(min_size=1),
    "line": st.integers(min_value=0, max_value=2**32 - 1),
    "args": st.dictionaries(texts(), texts(), max_size=2),
    "watches": st.lists(texts(min_size=1), max_size=2),
    "metrics": st.lists(metric_definitions(), max_size=2),
    "targeting": st.dictionaries(texts(), target_values(), max_size=2),
}


@given(tracepoints(), st.sampled_from(sorted(FIELD_VALUES)), st.data())
def test_config_hash_changes_when_any_field_changes(
    point: TracePoint, field: str, data: st.DataObject
) -> None:
    """Replacing any field with a different value changes the hash."""
    value = data.draw(FIELD_VALUES[field])
    try:
        changed = dataclasses.replace(point, **{field: value})
    except InvalidTracePoint:
        return  # new args can clash with the window or other well-known rules
    if changed != point:
        assert config_hash([changed]) != config_hash([point])


@pytest.mark.parametrize(
    "changed",
    [
        TracePoint("a", "p.py", 1, watches=("y", "x")),
        TracePoint("a", "p.py", 1, watches=("x",)),
        TracePoint("a", "p.py", 1, watches=("x", "y"), args={"k": "v"}),
        TracePoint("a", "p.py", 1, watches=("x", "y"), targeting={"k": 1}),
        TracePoint("a", "p.py", 1, watches=("x", "y"), targeting={"k": True}),
        TracePoint("a", "p.py", 1, watches=("x", "y"), targeting={"k": 1.0}),
        TracePoint("a", "p.py", 1, watches=("x", "y"), targeting={"k": "1"}),
        TracePoint("a", "p.py", 1, watches=("x", "y"), targeting={"k": b"1"}),
        TracePoint("a", "p.py", 1, watches=("x", "y"), targeting={"k": (1,)}),
        TracePoint("a", "p.py", 1, watches=("x", "y"), metrics=[MetricDefinition("m")]),
    ],
)
def test_config_hash_tells_types_and_order_apart(changed: TracePoint) -> None:
    """Watch order and the type of a targeting value (1, True, 1.0, "1", b"1") change the hash."""
    base = TracePoint("a", "p.py", 1, watches=("x", "y"))
    assert config_hash([changed]) != config_hash([base])


@pytest.mark.parametrize(
    "changed",
    [
        MetricDefinition("m", labels=[{"key": "b", "static": 1}, {"key": "a", "static": 1}]),
        MetricDefinition(
            "m", labels=[{"key": "a", "static": 1}, {"key": "b", "static": 1}], unit=""
        ),
        MetricDefinition("m", labels=[{"key": "a", "static": 1}, {"key": "b", "expression": "1"}]),
        MetricDefinition("m", "GAUGE", [{"key": "a", "static": 1}, {"key": "b", "static": 1}]),
    ],
)
def test_config_hash_sees_every_metric_detail(changed: MetricDefinition) -> None:
    """Label order, static versus expression, the metric type and '' versus None change the hash."""
    base = MetricDefinition("m", labels=[{"key": "a", "static": 1}, {"key": "b", "static": 1}])
    assert config_hash([TracePoint("a", "p.py", 1, metrics=[changed])]) != config_hash(
        [TracePoint("a", "p.py", 1, metrics=[base])]
    )


GOLDEN = TracePoint(
    "checkout-total",
    "shop/checkout.py",
    42,
    args={"fire_count": "-1", "condition": "total > 100"},
    watches=("total", "cart.items"),
    metrics=[MetricDefinition("checkout_total", "HISTOGRAM", expression="total")],
    targeting={"service": "shop", "weights": [1, 2.5, True, b"\x00"], "ünï": {"k": "v"}},
)
GOLDEN_HASH = "903fb3f41091c556c030729ee14ebf19"


def test_config_hash_is_pinned() -> None:
    """The hash of a fixed config is a fixed value: the canonical form never drifts silently."""
    assert config_hash([GOLDEN]) == GOLDEN_HASH
    assert len(tracepoint_digest(GOLDEN)) == 64
    assert tracepoint_digest(GOLDEN) != tracepoint_digest(tp())


def test_config_hash_is_stable_across_processes() -> None:
    """Another interpreter with a different PYTHONHASHSEED computes the same hash."""
    script = (
        "from tests.model.test_model import GOLDEN; from confighub.model import config_hash; "
        "print(config_hash([GOLDEN]))"
    )
    root = Path(__file__).resolve().parents[2]
    hashes = set()
    for seed in ("1", "2"):
        env = os.environ | {"PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            env=env,
            cwd=root,
            check=True,
        )
        hashes.add(result.stdout.strip())
    assert hashes == {config_hash([GOLDEN])}
