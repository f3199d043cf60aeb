"""Error messages stay small however big the bad value that caused them."""

from __future__ import annotations

from confighub._internal.text import SHOWN_VALUE_LENGTH, cut, shown
from confighub.exceptions import InvalidTracePoint, PollFailed, TapeError, TracePointFileError
from confighub.model import FrozenMap

BOUND = 2 * SHOWN_VALUE_LENGTH + 1_200


def test_a_ten_megabyte_value_gives_a_short_invalid_tracepoint_message() -> None:
    """A 10 MB bad field value is shown cut, with the count of what was left out."""
    error = InvalidTracePoint("tp-1", "watches", ["x" * 10_000_000], "must be expressions")
    assert len(str(error)) < BOUND
    assert "more characters" in str(error) or "..." in str(error)
    assert error.value == ["x" * 10_000_000]  # the value itself stays on the error


def test_a_ten_megabyte_field_name_gives_a_short_message() -> None:
    """The field can be a key from the file (an args key), so it is cut like a value."""
    error = InvalidTracePoint(None, "args." + "k" * 10_000_000, 1, "is not a known setting")
    assert len(str(error)) < BOUND


def test_an_alias_bomb_shaped_value_is_shown_in_bounded_time_and_size() -> None:
    """A value of 9**12 leaves built by shared references prints like a small one."""
    bomb: object = ["lol"]
    for _ in range(12):
        bomb = [bomb] * 9
    assert len(shown(bomb)) <= SHOWN_VALUE_LENGTH + 40


def test_a_huge_integer_is_named_by_its_size() -> None:
    """An integer past CPython's str() limit is described, not raised on."""
    assert shown(10**5000) == "<an integer of about 5001 digits>"
    assert shown(-12) == "-12"


def test_a_frozen_map_is_shown_with_limits() -> None:
    """Our own mappings are cut like dicts, not printed whole through their repr."""
    text = shown(FrozenMap({f"key{i}": "v" * 1000 for i in range(1000)}))
    assert text.startswith("FrozenMap({")
    assert len(text) <= SHOWN_VALUE_LENGTH + 40


def test_reasons_from_outside_are_cut() -> None:
    """File, tape and poll errors cut a reason that quotes hostile input."""
    huge = "r" * 1_000_000
    for error in (
        TracePointFileError("tp.yaml", 3, huge),
        TapeError("t.jsonl", 2, huge),
        PollFailed("localhost:1", "INTERNAL", huge),
    ):
        assert len(str(error)) < BOUND, type(error).__name__
    assert cut("short") == "short"
