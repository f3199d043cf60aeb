"""Exact diffs of configs that mostly share their items, without rescanning what is shared.

A hub's consecutive configs are tuples that hold the same item objects except
where something changed, and the ``new`` config of one change is the ``old``
config of the next. So an index (key → item) is kept per config tuple, and when
the old config has unique keys, only the items that can differ are compared: for
configs of one length, those at positions whose objects differ; else those
between the longest head and tail both share (an item shared at a position has
the same key and the same value on both sides). That case needs only the old
config's index, and makes the new one's from it by what differs, for the next
change: a chain of changes builds one index.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final

from confighub._internal.sharing import ConfigMemo, differing

__all__ = ["Item", "build_index", "diff_parts", "index", "item_key"]

Item = Any
"""One entry of a config: a ``TracePoint``, or whatever a Deep agent hands the hub."""

_CACHED_CONFIGS: Final = 8
_STR_ONLY: Final = frozenset({str})
_MISSING: Final = object()

# Each recent config tuple's index and whether its keys are unique.
_indexes: ConfigMemo[tuple[dict[str, Item], bool]] = ConfigMemo(_CACHED_CONFIGS)


def item_key(item: Item) -> str:
    """The key a diff uses for ``item``: its ``id`` when it has a string one, else its repr."""
    key = getattr(item, "id", None)
    return key if isinstance(key, str) else repr(item)


def build_index(config: Sequence[Item]) -> tuple[dict[str, Item], bool]:
    """Index ``config`` by key (repeats get ``#2``, ``#3``…); and whether no key repeated."""
    try:
        indexed = {item.id: item for item in config}
    except AttributeError:
        pass
    else:
        if len(indexed) == len(config) and set(map(type, indexed)) <= _STR_ONLY:
            return indexed, True
    indexed = {}
    unique = True
    for item in config:
        key = item_key(item)
        if key in indexed:
            unique = False
            n = 2
            while f"{key}#{n}" in indexed:
                n += 1
            key = f"{key}#{n}"
        indexed[key] = item
    return indexed, unique


def index(config: Sequence[Item]) -> tuple[dict[str, Item], bool]:
    """``build_index``, remembered for the last few config tuples; do not mutate the result."""
    if type(config) is not tuple:
        return build_index(config)
    kept = _indexes.get(config)
    if kept is not None:
        return kept
    indexed, unique = build_index(config)
    _indexes.put(config, (indexed, unique))
    return indexed, unique


def _sequence(items: Iterable[Item]) -> Sequence[Item]:
    return items if isinstance(items, tuple | list) else tuple(items)


def diff_parts(
    old_items: Iterable[Item],
    new_items: Iterable[Item],
    old_index: dict[str, Item] | None = None,
) -> tuple[dict[str, Item], dict[str, Item], dict[str, tuple[Item, Item]]]:
    """Return (added, removed, changed) turning ``old_items`` into ``new_items``, keyed by item.

    ``old_index``, when the caller keeps one, is the index of ``old_items``, with unique keys.
    """
    old, new = _sequence(old_items), _sequence(new_items)
    if old is new:
        return {}, {}, {}
    before, old_unique = (old_index, True) if old_index is not None else index(old)
    if old_unique:
        old_part, new_part, tail = differing(old, new)
        sides = _sides(old_part, new_part, before)
        if sides is not None:
            old_side, new_side = sides
            if type(new) is tuple and new not in _indexes:
                shared_tail = None if tail < 0 else old[len(old) - tail :]
                _chain(new, before, old_side, new_side, shared_tail)
            return _compare(old_side, old_side.items(), new_side, new_side.items())
    after, _ = index(new)
    return _compare(before, before.items(), after, after.items())


def _sides(
    old_part: list[Item], new_part: list[Item], before: dict[str, Item]
) -> tuple[dict[str, Item], dict[str, Item]] | None:
    # Only the parts can hold a difference. With ``old``'s keys unique, ``new``'s are unique
    # too unless a key in its part repeats, or names an item ``old`` keeps outside its part;
    # in that case (None) the full comparison decides.
    old_side = {item_key(item): item for item in old_part}
    new_side: dict[str, Item] = {}
    for item in new_part:
        key = item_key(item)
        if key in new_side or (key in before and key not in old_side):
            return None
        new_side[key] = item
    return old_side, new_side


def _chain(
    new: tuple[Item, ...],
    before: dict[str, Item],
    old_side: dict[str, Item],
    new_side: dict[str, Item],
    shared_tail: Sequence[Item] | None,
) -> None:
    # The new config is the next change's old one: its index, made here from the old
    # one's by what differs (a copy of a dict costs a fraction of building it), spares
    # that diff the build. Made only when it equals ``build_index(new)``, in key order
    # too: the same keys in the same places (no ``shared_tail``: configs of one length), or
    # a shared tail to move past the new part that is short; else the next diff builds it.
    if shared_tail is None:
        if list(old_side) != list(new_side):
            return
        after = before.copy()
        after.update(new_side)
    elif len(shared_tail) <= len(before) // 8:
        after = before.copy()
        moved = {item_key(item): item for item in shared_tail}
        for key in (*old_side, *moved):
            del after[key]
        after.update(new_side)
        after.update(moved)
    else:
        return
    _indexes.put(new, (after, True))


def _compare(
    before: dict[str, Item],
    old_side: Iterable[tuple[str, Item]],
    after: dict[str, Item],
    new_side: Iterable[tuple[str, Item]],
) -> tuple[dict[str, Item], dict[str, Item], dict[str, tuple[Item, Item]]]:
    added: dict[str, Item] = {}
    removed: dict[str, Item] = {}
    changed: dict[str, tuple[Item, Item]] = {}
    for key, item in new_side:
        previous = before.get(key, _MISSING)
        if previous is _MISSING:
            added[key] = item
        elif previous is not item and previous != item:
            changed[key] = (previous, item)
    for key, item in old_side:
        if key not in after:
            removed[key] = item
    return added, removed, changed
