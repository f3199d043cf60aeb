"""Streams of changes built by hand, as a hub would publish them, and tapes of them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from confighub import ConfigChange, config_hash
from confighub.events import Item
from confighub.tapes import Recorder

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


def write_tape(
    path: Path, changes: Iterable[ConfigChange], *, started: int = 0, source: str = "test"
) -> Path:
    """Record ``changes`` to a tape at ``path``, which started ``started`` ns after the epoch."""
    with Recorder(path, source=source, started=started) as recorder:
        for change in changes:
            recorder.on_next(change)
    return path


def size(change: ConfigChange) -> int:
    """The number of items in a change's new config."""
    return len(change.new)
