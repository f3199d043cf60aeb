"""Tracepoint files: YAML and JSON loading, the errors with their lines, and the example."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from hypothesis import given

from confighub import InvalidTracePoint, TracePointFileError
from confighub.files import dump_tracepoints, example_path, load_tracepoints, parse_tracepoints
from confighub.model import Action, MetricType, TracePoint, config_hash
from tests.support.strategies import configs

GOOD_YAML = """\
tracepoints:
  - id: checkout-total
    path: shop/checkout.py
    line: 42
    args: {fire_count: "-1", condition: "total > 100"}
    watches: [total, cart.items]
    metrics:
      - {name: checkout_total, type: HISTOGRAM, expression: total}
  - path: shop/cart.py
    line: 7
"""


def parse_error(text: str, **kwargs: str) -> TracePointFileError:
    with pytest.raises(TracePointFileError) as caught:
        parse_tracepoints(text, source="tps.yaml", **kwargs)
    assert caught.value.path == "tps.yaml"
    return caught.value


def test_parse_reads_the_readme_example() -> None:
    """The file format example of the README parses into the expected tracepoints."""
    first, second = parse_tracepoints(GOOD_YAML)
    assert first.id == "checkout-total"
    assert first.fire_count == -1
    assert first.watches == ("total", "cart.items")
    assert first.metrics[0].type is MetricType.HISTOGRAM
    assert second == TracePoint("shop/cart.py:7", "shop/cart.py", 7)


def test_empty_tracepoint_list_is_an_empty_config() -> None:
    """'tracepoints: []' is a valid file with no tracepoints."""
    assert parse_tracepoints("tracepoints: []\n") == ()


def test_load_picks_the_format_from_the_extension(tmp_path: Path) -> None:
    """.yaml, .yml and .json files load alike; an unknown extension is read as YAML."""
    expected = parse_tracepoints(GOOD_YAML)
    document = {"tracepoints": [tp.to_dict() for tp in expected]}
    for name, text in [
        ("a.yaml", GOOD_YAML),
        ("b.yml", GOOD_YAML),
        ("c.json", json.dumps(document, indent=2)),
        ("d.conf", json.dumps(document)),
    ]:
        (tmp_path / name).write_text(text, encoding="utf-8")
        assert load_tracepoints(tmp_path / name) == expected
        assert load_tracepoints(str(tmp_path / name)) == expected


def test_load_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    """A UTF-8 file saved with a BOM loads, JSON included."""
    path = tmp_path / "bom.json"
    path.write_text('\ufeff{"tracepoints": [{"path": "p.py", "line": 1}]}', encoding="utf-8")
    assert load_tracepoints(path) == (TracePoint("p.py:1", "p.py", 1),)


def test_load_of_a_missing_file_is_a_file_error(tmp_path: Path) -> None:
    """A file that cannot be read raises TracePointFileError naming it, chained to the OSError."""
    with pytest.raises(TracePointFileError) as caught:
        load_tracepoints(tmp_path / "missing.yaml")
    assert caught.value.path == str(tmp_path / "missing.yaml")
    assert isinstance(caught.value.__cause__, FileNotFoundError)


def test_invalid_yaml_names_its_line() -> None:
    """A YAML syntax error is reported with the line it is on."""
    text = "tracepoints:\n  - path: a.py\n    line: 1\n  - path: [b.py\n    line: 2\n"
    err = parse_error(text)
    assert err.line is not None
    assert 4 <= err.line <= 5
    assert "invalid YAML" in err.reason


def test_invalid_json_names_its_line(tmp_path: Path) -> None:
    """A JSON syntax error is reported with its line, and chained to the decoder's error."""
    path = tmp_path / "tps.json"
    path.write_text('{\n  "tracepoints": [\n    {"path": "a.py", "line": 1,}\n  ]\n}\n')
    with pytest.raises(TracePointFileError) as caught:
        load_tracepoints(path)
    assert caught.value.line == 3
    assert isinstance(caught.value.__cause__, json.JSONDecodeError)


@pytest.mark.parametrize("text", ["", "   \n\n", "# only a comment\n"])
def test_empty_file(text: str) -> None:
    """An empty file (or one with only comments) is an error, not an empty config."""
    err = parse_error(text)
    assert "tracepoints" in err.reason


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("- path: a.py\n  line: 1\n", 1, "got a list"),
        ("just text\n", 1, "got a str"),
        ("other: 1\n", 1, "unknown top-level key 'other'"),
        ("tracepoints: []\nversion: 2\n", 2, "unknown top-level key 'version'"),
        ("tracepoints:\n", 1, "must be a list"),
        ("\ntracepoints: {path: a.py}\n", 2, "must be a list"),
    ],
)
def test_bad_document_shapes(text: str, line: int, words: str) -> None:
    """A document that is not {tracepoints: [...]} is an error pointing at the offending line."""
    err = parse_error(text)
    assert err.line == line
    assert words in err.reason


def test_missing_tracepoints_key() -> None:
    """A mapping without 'tracepoints' is an error."""
    assert "no 'tracepoints' key" in parse_error("{}\n").reason


BAD_ENTRY = """\
tracepoints:
  - path: shop/cart.py
    line: 7
  # the entry below is the bad one
  - id: bad
    path: shop/cart.py
    {field}
"""


@pytest.mark.parametrize(
    ("field", "invalid_field", "value"),
    [
        ("line: forty-two", "line", "forty-two"),
        ("line: 3\n    args: {stage: sometime}", "args.stage", "sometime"),
        ("line: 3\n    args: {fire_count: -2}", "args.fire_count", "-2"),
        ("line: 3\n    args: {fire_count: '-5'}", "args.fire_count", "-5"),
        ("line: -3", "line", -3),
        ("line: 3\n    colour: red", "colour", "red"),
    ],
)
def test_invalid_entry_names_the_line_where_it_starts(
    field: str, invalid_field: str, value: object
) -> None:
    """An invalid entry is reported at its first line, with the InvalidTracePoint chained."""
    err = parse_error(BAD_ENTRY.format(field=field))
    assert err.line == 5
    cause = err.__cause__
    assert isinstance(cause, InvalidTracePoint)
    assert (cause.tracepoint_id, cause.field, cause.value) == ("bad", invalid_field, value)
    assert str(cause) in err.reason


def test_invalid_json_entry_names_its_line() -> None:
    """JSON entries get line numbers too."""
    text = '{"tracepoints": [\n  {"path": "a.py", "line": 1},\n  {"path": "b.py", "line": "x"}\n]}'
    assert parse_error(text, format="json").line == 3


def test_duplicate_ids_name_both_lines() -> None:
    """Two entries with one id are an error naming the id and the lines of both."""
    text = textwrap.dedent(
        """\
        tracepoints:
          - {id: same, path: a.py, line: 1}
          - {path: a.py, line: 2}
          - {id: same, path: b.py, line: 9}
        """
    )
    err = parse_error(text)
    assert err.line == 4
    assert "'same'" in err.reason
    assert "line 2" in err.reason
    assert "line 4" in err.reason


def test_derived_ids_clash_too() -> None:
    """Two entries at one path and line without ids clash on their derived id."""
    err = parse_error("tracepoints:\n  - {path: a.py, line: 1}\n  - {path: a.py, line: 1}\n")
    assert "'a.py:1'" in err.reason


def test_unknown_format_is_a_value_error() -> None:
    """Only 'yaml' and 'json' are formats."""
    with pytest.raises(ValueError, match="toml"):
        parse_tracepoints("tracepoints: []", format="toml")
    with pytest.raises(ValueError, match="toml"):
        dump_tracepoints([], format="toml")


def test_bundled_example_loads() -> None:
    """The bundled example loads and covers each kind of tracepoint it promises."""
    path = example_path()
    assert path.name == "tracepoints.yaml"
    config = load_tracepoints(path)
    assert 5 <= len(config) <= 7
    assert {tp.path for tp in config} == {"shop/checkout.py", "shop/cart.py", "shop/payments.py"}
    assert any(Action.LOG in tp.actions for tp in config)
    assert any(m.type is MetricType.HISTOGRAM for tp in config for m in tp.metrics)
    assert any(tp.method_name is not None for tp in config)
    assert any(Action.SPAN in tp.actions for tp in config)
    assert any(tp.fire_count == -1 and tp.condition for tp in config)
    assert any(tp.targeting == {"service": "shop"} for tp in config)


@given(configs())
def test_yaml_dump_parse_round_trip(config: list[TracePoint]) -> None:
    """Dumped as YAML and parsed, a config comes back the same, hash included."""
    back = parse_tracepoints(dump_tracepoints(config))
    assert back == tuple(config)
    assert config_hash(back) == config_hash(config)


@given(configs())
def test_json_dump_parse_round_trip(config: list[TracePoint]) -> None:
    """Dumped as JSON and parsed, a config comes back the same when JSON can hold it."""
    try:
        text = dump_tracepoints(config, format="json")
    except TypeError:
        return  # bytes values have no JSON form
    assert parse_tracepoints(text, format="json") == tuple(config)
