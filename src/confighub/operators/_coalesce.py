"""Coalescing: many consecutive changes become one.

A run of changes ``a, b, c`` (each starting where the previous one ended)
is equivalent to one change from ``a.old`` to ``c.new``; when ``c`` ends where
``a`` began, the run changed nothing. Both ``debounce_changes`` and
``conflate`` rely on this to keep the chain invariant for what they emit.
"""

from __future__ import annotations

from confighub.events import ConfigChange, new_change

__all__ = ["net_change"]


def net_change(first: ConfigChange, last: ConfigChange) -> ConfigChange | None:
    """The one change equivalent to the run ``first … last``, or None if it ends where it began."""
    if first is last:
        return first
    if first.old_hash == last.new_hash:
        return None
    return new_change((last.ts, first.old_hash, last.new_hash, first.old, last.new))
