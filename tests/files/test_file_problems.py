"""file_problems: every problem of a file at once, for ``confighub check``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from confighub import InvalidTracePoint, TracePointFileError
from confighub.files import file_problems, load_tracepoints

MANY_PROBLEMS = textwrap.dedent(
    """\
    tracepoints:
      - {id: ok, path: a.py, line: 1}
      - {id: no-line, path: a.py}
      - {id: ok, path: b.py, line: 2}
      - {id: bad-stage, path: a.py, line: 3, args: {stage: soon}}
      - {path: a.py, line: 4, colour: red}
      - {id: ok, path: c.py, line: 5}
    version: 2
    owner: me
    """
)


@pytest.fixture
def many(tmp_path: Path) -> Path:
    path = tmp_path / "tps.yaml"
    path.write_text(MANY_PROBLEMS, encoding="utf-8")
    return path


def test_check_sees_every_problem_not_just_the_first(many: Path) -> None:
    """Each unknown key, invalid entry and duplicate id is one problem, at its own line."""
    problems = file_problems(many)
    assert [(p.path, p.line) for p in problems] == [(str(many), n) for n in (8, 9, 3, 4, 5, 6, 7)]
    reasons = [p.reason for p in problems]
    assert "unknown top-level key 'version'" in reasons[0]
    assert "unknown top-level key 'owner'" in reasons[1]
    assert "'line'" in reasons[2]
    assert "duplicate tracepoint id 'ok'" in reasons[3]
    assert "args.stage" in reasons[4]
    assert "colour" in reasons[5]
    assert "entry #1 (line 2) and entry #6 (line 7)" in reasons[6]
    assert isinstance(problems[2].__cause__, InvalidTracePoint)


def test_load_still_raises_only_the_first_problem(many: Path) -> None:
    """load_tracepoints keeps raising the first problem, the one file_problems lists first."""
    with pytest.raises(TracePointFileError) as caught:
        load_tracepoints(many)
    assert str(caught.value) == str(file_problems(many)[0])


def test_check_stops_at_the_limit(many: Path) -> None:
    """No more than ``limit`` problems come back, the first ones of the file."""
    assert [p.line for p in file_problems(many, limit=3)] == [8, 9, 3]
    with pytest.raises(ValueError, match="at least 1"):
        file_problems(many, limit=0)


def test_check_of_a_good_file_finds_no_problem(tmp_path: Path) -> None:
    """A valid file has no problems: an empty tuple."""
    path = tmp_path / "good.json"
    path.write_text('{"tracepoints": [{"path": "a.py", "line": 1}]}', encoding="utf-8")
    assert file_problems(path) == ()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("tracepoints: [\n  {path: a.py\n", "invalid YAML"),
        ("", "the file is empty"),
        ("- a\n- b\n", "expected a mapping"),
        ("other: 1\n", "no 'tracepoints' key"),
        ("[" * 100_000, "nested deeper"),
    ],
    ids=["unparseable", "empty", "not-a-mapping", "no-tracepoints", "depth-bomb"],
)
def test_check_of_an_unusable_file_gives_its_one_error(
    tmp_path: Path, text: str, words: str
) -> None:
    """A file that cannot be parsed or has the wrong shape has the one problem saying why."""
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    problems = file_problems(path)
    assert words in problems[-1].reason
    assert len(problems) == (2 if words == "no 'tracepoints' key" else 1)


def test_check_of_a_missing_file_gives_its_one_error(tmp_path: Path) -> None:
    """A file that cannot be read is one problem, chained to the OSError."""
    [problem] = file_problems(tmp_path / "missing.yaml")
    assert "cannot read the file" in problem.reason
    assert isinstance(problem.__cause__, FileNotFoundError)
