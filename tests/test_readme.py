"""The README's usage example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_usage_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """The first python block under "## Usage" executes and prints the changes it makes."""
    usage = README.read_text(encoding="utf-8").split("## Usage", 1)[1]
    match = re.search(r"```python\n(.*?)```", usage, re.DOTALL)
    assert match is not None
    exec(compile(match.group(1), str(README), "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert "checkout-total" in lines[0]
