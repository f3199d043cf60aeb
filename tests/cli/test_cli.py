"""The confighub command line, run in-process through main(argv)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from confighub import __version__
from confighub.cli import main
from confighub.files import example_path
from tests.support.threads import alive, started_since


def test_demo_prints_every_scripted_change_and_exits(capsys: pytest.CaptureFixture[str]) -> None:
    """`confighub demo` edits a file, then writes over HTTP, on its own; prints it all, exits 0."""
    before = alive()
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"serving tracepoints\.yaml on 127\.0\.0\.1:\d+; long-polling it", out)
    assert "+ checkout-discount" in out
    assert "args.fire_count: -1 → 10" in out
    assert "- cart-add-log" in out
    assert "[shop/checkout.py]" in out
    assert "ms after the edit" in out
    assert "field 'line' = 'soon'" in out
    assert "kept the last good config" in out
    assert "done: 6 changes" in out
    # The second act: an operator over the HTTP API, two long-polling agents, the fleet view.
    assert re.search(r"HTTP API on http://127\.0\.0\.1:\d+", out)
    assert re.search(r"every agent holds it \d+ ms after the write", out)
    assert "2 agents: 2 converged, 0 behind" in out
    assert "412 Precondition Failed: the config changed" in out
    assert "done: 6 changes seen by 2 agents" in out
    assert not started_since(before)


def test_check_validates_a_good_file(capsys: pytest.CaptureFixture[str]) -> None:
    """`confighub check FILE` prints the tracepoints and their hash."""
    assert main(["check", str(example_path())]) == 0
    out = capsys.readouterr().out
    assert "6 tracepoints, hash" in out
    assert "payment-latency" in out


def test_check_names_file_and_line_of_a_bad_tracepoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad tracepoint exits 1 with an error naming the file, line and field."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("tracepoints:\n  - path: a.py\n    line: 3\n    args: {stage: sideways}\n")
    assert main(["check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:2" in err
    assert "stage" in err
    assert "sideways" in err


def test_version_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    """--version prints the version; an unknown command exits 2 with usage."""
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out
    assert main(["nonsense"]) == 2
    assert "No such command" in capsys.readouterr().err
