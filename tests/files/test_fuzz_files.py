"""Whatever a file holds, reading it gives tracepoints or a TracePointFileError, nothing else.

``deadline=None`` (also the suite's profile): the first examples pay for warming the
parsers, and a shared two-core CI machine makes any per-example deadline flaky; that
each input finishes is the job of the bomb tests and of pytest-timeout, not of timing.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from confighub import TracePoint, TracePointFileError
from confighub.files import file_problems, load_tracepoints, parse_tracepoints

FORMATS = (None, "yaml", "json")
KEYS = ("id", "path", "line", "args", "watches", "metrics", "targeting")

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats()
    | st.text(max_size=12)
)
# A value the test replaces, in the dumped text, by a hostile piece of YAML or JSON that no
# dumper would write: so the documents are random, and so is where the trouble sits.
HOLE = "HOLEHOLE"
values = st.recursive(
    scalars | st.just(HOLE),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=6) | st.sampled_from(KEYS), inner, max_size=4)
    ),
    max_leaves=16,
)
entries = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), values, max_size=7)
documents = (
    values
    | st.fixed_dictionaries({"tracepoints": st.lists(entries, max_size=4)})
    | st.fixed_dictionaries({"tracepoints": values}, optional={"extra": values})
)
# Characters that make YAML and JSON mean something, so that random text gets past the scanner.
syntax_text = st.text(alphabet="[]{}:,-?&*!|>'\"#%@`\\\n\t 0aZ.~=<", max_size=80)
# Runs of pieces of tracepoint files, hostile ones among them: nesting by the hundred,
# integers of more digits than int() reads, dates that do not exist, anchors and aliases.
PIECES = (
    *("[", "]", "{", "}", ":", ", ", "- ", "\n", "  ", '"', "'", "? ", "<<: "),
    *("tracepoints", "path", "line", "targeting", "args", "a.py", "1", "-1", "1.5e999"),
    *("&a ", "*a", "&b ", "*b", "!!binary ", "!!int ", "!!timestamp ", "2026-13-45"),
    *("[" * 400, "]" * 400, "{x: " * 300, "9" * 4_400, "0x" + "f" * 4_000),
)
pieces_text = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def flow_bomb(width: int, levels: int) -> str:
    """An alias bomb in one flow sequence: each level ``width`` aliases of the one before."""
    items = ["&l0 [" + ", ".join(["lol"] * width) + "]"]
    items += [f"&l{n} [" + ", ".join([f"*l{n - 1}"] * width) + "]" for n in range(1, levels + 1)]
    return "[" + ", ".join(items) + "]"


json_fillers = st.integers(1, 3_000).map(nested) | st.integers(1, 6_000).map(lambda n: "7" * n)
yaml_fillers = (
    json_fillers
    | st.builds(flow_bomb, st.integers(1, 9), st.integers(1, 9))
    | st.sampled_from(["2026-13-45", "!!int ''", "!!timestamp x", "!!float x", "!!bool x"])
)


def outcome(read: Callable[[], tuple[TracePoint, ...]]) -> object:
    """What ``read()`` returns, or the TracePointFileError it raises; anything else escapes."""
    try:
        return read()
    except TracePointFileError as err:
        return err


def assert_read_or_refused(text: str) -> None:
    for format in FORMATS:
        result = outcome(functools.partial(parse_tracepoints, text, source="fuzz", format=format))
        if isinstance(result, TracePointFileError):
            assert result.path == "fuzz"
        else:
            assert isinstance(result, tuple)
            assert all(isinstance(tp, TracePoint) for tp in result)


@settings(max_examples=200)
@given(documents, yaml_fillers)
def test_no_yaml_document_escapes_as_another_exception(document: object, filler: str) -> None:
    """Random YAML documents, hostile values spliced in, parse or raise TracePointFileError."""
    assert_read_or_refused(yaml.safe_dump(document, allow_unicode=True).replace(HOLE, filler))


@settings(max_examples=200)
@given(documents, json_fillers)
def test_no_json_document_escapes_as_another_exception(document: object, filler: str) -> None:
    """Random JSON documents (NaN, infinities, hostile values) parse or raise a file error."""
    assert_read_or_refused(json.dumps(document).replace(f'"{HOLE}"', filler))


@settings(max_examples=300)
@given(st.text(max_size=80) | syntax_text | pieces_text)
def test_no_text_escapes_as_another_exception(text: str) -> None:
    """Random text, runs of YAML and JSON syntax and of file pieces: tracepoints or a file error."""
    assert_read_or_refused(text)


@pytest.fixture(scope="module")
def fuzz_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@settings(max_examples=150)
@given(
    data=st.binary(max_size=120) | pieces_text.map(str.encode),
    suffix=st.sampled_from([".yaml", ".json", ".txt"]),
)
def test_no_bytes_escape_as_another_exception(fuzz_folder: Path, data: bytes, suffix: str) -> None:
    """Random bytes in a file load, or raise TracePointFileError; file_problems only lists them."""
    path = fuzz_folder / f"fuzz{suffix}"
    path.write_bytes(data)
    result = outcome(lambda: load_tracepoints(path))
    if isinstance(result, TracePointFileError):
        assert result.path == str(path)
        assert file_problems(path)
    else:
        assert isinstance(result, tuple)
        assert all(isinstance(tp, TracePoint) for tp in result)
        assert file_problems(path) == ()
