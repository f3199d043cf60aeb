"""Streams of changes built by hand, as a hub would publish them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from confighub import ConfigChange, config_hash
from confighub.events import Item

SECOND = 1_000_000_000


def chain(
    configs: Iterable[Sequence[Item]],
    *,
    first: int = SECOND,
    step: int = SECOND,
    old: Sequence[Item] = (),
) -> list[ConfigChange]:
    """The changes from ``old`` through each of ``configs``, at ``first`` ns and ``step`` apart."""
    changes: list[ConfigChange] = []
    before = tuple(old)
    for number, config in enumerate(configs):
        new = tuple(config)
        old_hash = config_hash(before) if before else None
        changes.append(ConfigChange(first + number * step, old_hash, config_hash(new), before, new))
        before = new
    return changes
