"""How confighub shows hashes in messages, logs, tables and plots: one length everywhere."""

from __future__ import annotations

from typing import Final

__all__ = ["SHOWN_HASH_LENGTH", "short_hash"]

SHOWN_HASH_LENGTH: Final = 8
"""Hex digits of a hash shown to people; the full hash goes where it is copied from."""


def short_hash(value: str | None) -> str:
    """The first ``SHOWN_HASH_LENGTH`` characters of a hash, or ``∅`` for no config."""
    return value[:SHOWN_HASH_LENGTH] if value else "∅"
