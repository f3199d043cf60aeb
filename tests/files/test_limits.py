"""Untrusted files are read within bounds: alias bombs, depth bombs, huge values and sizes."""

from __future__ import annotations

from pathlib import Path

import pytest

import confighub.files
from confighub import TracePointFileError
from confighub.files import load_tracepoints, parse_tracepoints
from confighub.files._limits import MAX_ALIAS_NODES, MAX_DEPTH, MAX_FILE_BYTES
from tests.files.bombs import billion_laughs

# Far past any message a person reads, far short of the ten million characters of the input.
BOUND = 2_000


def refused(text: str, format: str | None = None) -> TracePointFileError:
    with pytest.raises(TracePointFileError) as caught:
        parse_tracepoints(text, source="bomb.yaml", format=format)
    assert caught.value.path == "bomb.yaml"
    assert len(str(caught.value)) < BOUND
    return caught.value


@pytest.mark.timeout(60)
@pytest.mark.parametrize("key", ["targeting", "unknown"])
def test_a_yaml_alias_bomb_no_longer_takes_seconds_and_gigabytes(key: str) -> None:
    """A billion-laughs document is refused from its node graph, at the line of the alias.

    Anchors, aliases and merge keys that share a few values are ordinary YAML, and load.
    """
    text = billion_laughs(key)
    assert len(text) < 700
    err = refused(text)
    assert "alias bomb" in err.reason
    assert err.line is not None
    assert 4 < err.line <= 13

    shared = (
        "tracepoints:\n"
        "  - &first {path: a.py, line: 1, targeting: &shop {service: shop, tier: [a, b]}}\n"
        "  - {<<: *first, line: 2}\n"
        "  - {path: b.py, line: 3, targeting: *shop}\n"
    )
    first, second, third = parse_tracepoints(shared)
    assert first.targeting == second.targeting == third.targeting
    assert second.line == 2


def test_aliases_past_the_node_budget_are_refused_even_without_a_bomb_shape() -> None:
    """One wide anchor repeated past MAX_ALIAS_NODES nodes is refused, not expanded."""
    width = 1_000
    anchor = "[" + ",".join(["x"] * width) + "]"
    uses = ",".join(["*w"] * (MAX_ALIAS_NODES // width + 1))
    err = refused(f"w: &w {anchor}\ntracepoints: [{uses}]\n")
    assert err.line == 2
    assert f"{MAX_ALIAS_NODES:,}" in err.reason


def test_a_yaml_alias_to_its_own_collection_is_no_recursion_error() -> None:
    """An anchor whose collection holds its own alias (a cycle) is refused, not walked forever."""
    err = refused("tracepoints:\n  - &x {path: a.py, line: 1, targeting: {x: [*x]}}\n")
    assert err.line == 2
    assert "never end" in err.reason


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("text", "format"),
    [
        ("[" * 100_000 + "]" * 100_000, "json"),
        ("[" * 100_000 + "]" * 100_000, None),
        ("[" * 100_000 + "]" * 100_000, "yaml"),
        (
            '{"tracepoints": [{"path": "a.py", "line": 1, "targeting": {"k": '
            + "[" * 900
            + "]" * 900
            + "}}]}",
            "json",
        ),
        (
            "tracepoints:\n- {path: a.py, line: 1, targeting: {k: " + "[" * 900 + "]" * 900 + "}}",
            None,
        ),
    ],
    ids=["json", "guessed", "yaml", "json-in-targeting", "yaml-in-targeting"],
)
def test_a_depth_bomb_is_no_recursion_error(text: str, format: str | None) -> None:
    """Nesting 100,000 (or 900) deep is a TracePointFileError at its line, not a RecursionError."""
    err = refused(text, format)
    assert err.line in (1, 2)
    assert err.reason == f"lists and mappings nested deeper than {MAX_DEPTH} levels"


def test_nesting_is_refused_just_past_max_depth() -> None:
    """MAX_DEPTH levels of lists and mappings are read; one more is refused at its line."""

    def nested(lists: int) -> str:  # the top-level mapping is the first level
        return "tracepoints: []\nx:\n  " + "[" * lists + "]" * lists + "\n"

    assert "unknown top-level key 'x'" in refused(nested(MAX_DEPTH - 1)).reason
    err = refused(nested(MAX_DEPTH))
    assert (err.line, err.reason) == (
        3,
        f"lists and mappings nested deeper than {MAX_DEPTH} levels",
    )


def test_aliases_nesting_anchors_past_max_depth_are_refused() -> None:
    """A chain of anchors, each holding the last one's alias, counts the depth it expands to."""
    chain = "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 2 * MAX_DEPTH))
    err = refused("a0: &a0 [x]\n" + chain)
    assert "nested deeper" in err.reason
    assert err.line is not None


@pytest.mark.parametrize(
    ("text", "format", "line"),
    [
        ('{"tracepoints": [\n{"path": "a.py", "line": ' + "7" * 5_000 + "}]}", "json", 2),
        ('{"tracepoints": [\n{"path": "a.py", "line": ' + "7" * 5_000 + "}]}", None, 2),
        ("tracepoints:\n  - path: a.py\n    line: " + "7" * 5_000 + "\n", "yaml", 3),
        ("tracepoints:\n  - {path: a.py, line: 1, targeting: {day: 2026-13-45}}\n", None, 2),
    ],
    ids=["json-integer", "guessed-integer", "yaml-integer", "yaml-date"],
)
def test_a_value_python_refuses_to_build_is_no_value_error(
    text: str, format: str | None, line: int
) -> None:
    """A 5,000-digit integer or a 13th month is a TracePointFileError at its line."""
    err = refused(text, format)
    assert err.line == line
    assert not isinstance(err.__cause__, TracePointFileError)


def test_a_file_past_max_file_bytes_is_refused_unread(tmp_path: Path) -> None:
    """A file one byte past MAX_FILE_BYTES is refused with its size limit named."""
    path = tmp_path / "huge.yaml"
    with path.open("wb") as file:
        file.write(b"tracepoints: []\n")
        file.truncate(MAX_FILE_BYTES + 1)  # sparse: the test writes no 16 MiB
    with pytest.raises(TracePointFileError) as caught:
        load_tracepoints(path)
    assert caught.value.path == str(path)
    assert f"{MAX_FILE_BYTES:,} bytes" in caught.value.reason
    with pytest.raises(TracePointFileError, match="longer than the limit"):
        parse_tracepoints("#" * (MAX_FILE_BYTES + 1))


TEN_MB = 10_000_000


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("tracepoints: []\n? 'W'\n: 1\n", "unknown top-level key"),
        (
            "tracepoints:\n  - {id: 'W', path: a.py, line: 1}\n"
            "  - {id: 'W', path: b.py, line: 2}\n",
            "duplicate tracepoint id",
        ),
        (
            "tracepoints:\n  - path: a.py\n    line: 1\n    args:\n      ? 'W'\n      : [x]\n",
            "args.",
        ),
    ],
    ids=["unknown-key", "duplicate-id", "bad-args-key"],
)
def test_a_ten_megabyte_bad_value_no_longer_makes_a_ten_megabyte_reason(
    tmp_path: Path, text: str, words: str
) -> None:
    """In a 10 MB file the reason and message quoting a bad value are cut to a bound."""
    path = tmp_path / "big.yaml"
    path.write_text(text.replace("W", "w" * (TEN_MB // text.count("W"))), encoding="utf-8")
    with pytest.raises(TracePointFileError) as caught:
        load_tracepoints(path)
    assert words in caught.value.reason
    assert len(caught.value.reason) < BOUND
    assert len(str(caught.value)) < BOUND


def test_the_package_docstring_states_the_limits() -> None:
    """The bounds the docs promise are the bounds the code holds files to."""
    doc = confighub.files.__doc__ or ""
    assert f"at most {MAX_FILE_BYTES // (1024 * 1024)} MiB" in doc
    assert f"nested at most {MAX_DEPTH} deep" in doc
    assert f"at most {MAX_ALIAS_NODES:,} nodes" in doc


def test_a_hex_integer_key_past_str_digits_is_no_value_error() -> None:
    """A YAML hex key of 5,000 digits (int() reads it, str() cannot) is an unknown key."""
    text = "? 0x" + "f" * 5000 + "\n: 1\ntracepoints: []\n"
    with pytest.raises(TracePointFileError, match="unknown top-level key <an integer of about"):
        parse_tracepoints(text, format="yaml")
