"""Hostile tracepoint files for the tests of the bounds they are read within."""

from __future__ import annotations


def billion_laughs(key: str) -> str:
    """The classic alias bomb, nine levels of nine aliases, under ``key`` of one tracepoint."""
    lines = ["tracepoints:", "  - {path: a.py, line: 1, " + key + ": {", '    a: &a ["lol"],']
    for level in "bcdefghij":
        previous = chr(ord(level) - 1)
        lines.append(f"    {level}: &{level} [" + ",".join([f"*{previous}"] * 9) + "],")
    return "\n".join([*lines, "    }}"]) + "\n"
