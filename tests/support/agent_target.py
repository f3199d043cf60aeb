"""Code for the real Deep agent to instrument in tests: keep the line numbers stable."""

from __future__ import annotations


def checkout(total: int) -> int:
    """Return the total with tax; a tracepoint sits on the next line."""
    return total * 2


TRACED_LINE = 8
