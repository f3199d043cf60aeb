"""The README's usage example runs as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from confighub import TracePoint
from confighub.server import HubServer, MemoryStore
from tests.support.waiting import wait_until

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


def _blocks(heading: str, language: str) -> list[str]:
    after = README.read_text(encoding="utf-8").split(heading, 1)[1]
    section = re.split(r"\n###? ", after, maxsplit=1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, re.DOTALL)


def test_operator_examples_print_what_their_comments_say(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each python block under "### Operators" runs and prints its trailing ``# `` lines."""
    blocks = _blocks("### Operators", "python")
    assert len(blocks) == 2
    for block in blocks:
        exec(compile(block, str(README), "exec"), {"__name__": "readme"})
        promised = re.findall(r"^# (.*)$", block.split("\n\n")[-1], re.MULTILINE)
        assert capsys.readouterr().out.splitlines() == promised


def test_plugin_example_passes_under_pytest(pytester: pytest.Pytester) -> None:
    """The README's test, run by pytest in a fresh process, finds the plugin's fixtures."""
    (block,) = _blocks("### Testing your own observers", "python")
    pytester.makepyfile(test_example=block)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_wire_example_serves_and_long_polls_on_loopback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The block under "### On the wire" runs a real server and client and prints its comments."""
    (block, *_) = _blocks("### On the wire", "python")
    exec(compile(block, str(README), "exec"), {"__name__": "readme"})
    promised = re.findall(r"^# (.*)$", block, re.MULTILINE)
    assert capsys.readouterr().out.splitlines() == promised


def test_record_and_replay_example_prints_what_its_comments_say(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The block under "### Record and replay" records a hub, replays it and debounces it."""
    (block,) = _blocks("### Record and replay", "python")
    exec(compile(block, str(README), "exec"), {"__name__": "readme"})
    promised = re.findall(r"^# (.*)$", block.split("\n\n")[-1], re.MULTILINE)
    assert capsys.readouterr().out.splitlines() == promised


def test_deep_agent_example_prints_the_first_config(capsys: pytest.CaptureFixture[str]) -> None:
    """The block under "### The Deep agent" subscribes first, so it sees the first config."""
    (block,) = _blocks("### The Deep agent, drop-in", "python")
    store = MemoryStore([TracePoint(path="shop/checkout.py", line=42, id="checkout")])
    printed: list[str] = []

    def printed_a_line() -> bool:
        printed.extend(capsys.readouterr().out.splitlines())
        return bool(printed)

    with HubServer(store) as server:
        namespace: dict[str, Any] = {"__name__": "readme"}
        code = block.replace("localhost:43315", server.target)
        exec(compile(code, str(README), "exec"), namespace)
        try:
            wait_until(printed_a_line, "the example printing the first config")
        finally:
            namespace["agent"].shutdown()
    assert printed[0] == "['shop/checkout.py#42']"


def test_fleet_view_example_prints_what_its_comments_say(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The python block under "### Managing a running server" prints its trailing ``# `` lines."""
    (block,) = _blocks("### Managing a running server", "python")
    exec(compile(block, str(README), "exec"), {"__name__": "readme"})
    promised = re.findall(r"^# (.*)$", block.split("\n\n")[-1], re.MULTILINE)
    assert capsys.readouterr().out.splitlines() == promised
