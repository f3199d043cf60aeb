"""ConfigChange and ConfigDiff: unpacking, keys, and what a diff reports."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from confighub import ConfigChange, ConfigDiff, TracePoint
from confighub.events import item_key, items_by_key


def test_change_unpacks_as_the_deep_listener_arguments() -> None:
    """A ConfigChange is a 5-tuple (ts, old_hash, new_hash, old, new) with named fields."""
    change = ConfigChange(7, "a", "b", (), ("x",))
    ts, old_hash, new_hash, old, new = change
    assert (ts, old_hash, new_hash, old, new) == (7, "a", "b", (), ("x",))
    assert change._fields == ("ts", "old_hash", "new_hash", "old", "new")


def test_diff_reports_added_removed_and_changed_by_id() -> None:
    """Items are matched by id: same id with other content is changed, not removed and added."""
    keep = TracePoint("keep", "a.py", 1)
    gone = TracePoint("gone", "a.py", 2)
    before = TracePoint("edit", "a.py", 3)
    after = TracePoint("edit", "a.py", 3, {"fire_count": "-1"})
    new = TracePoint("new", "b.py", 4)
    diff = ConfigChange(1, "h1", "h2", (keep, gone, before), (keep, after, new)).diff
    assert diff == ConfigDiff({"new": new}, {"gone": gone}, {"edit": (before, after)})
    assert diff.touched == {"new", "gone", "edit"}
    assert not diff.empty


def test_diff_of_equal_configs_is_empty() -> None:
    """The same items in another order make an empty diff."""
    a, b = TracePoint("a", "a.py", 1), TracePoint("b", "b.py", 2)
    diff = ConfigDiff.between((a, b), (b, a))
    assert diff.empty
    assert diff.touched == frozenset()


def test_items_without_id_are_keyed_by_repr_and_duplicates_are_kept() -> None:
    """Opaque items fall back to their repr; a repeated key gets a suffix instead of being lost."""
    assert item_key("plain") == "'plain'"
    assert item_key(TracePoint("x", "a.py", 1)) == "x"
    keyed = items_by_key([TracePoint("x", "a.py", 1), TracePoint("x", "a.py", 2), "s"])
    assert list(keyed) == ["x", "x#2", "'s'"]
    diff = ConfigDiff.between(["s"], ["s", "t"])
    assert diff.added == {"'t'": "t"}


def naive_diff(old: Sequence[Any], new: Sequence[Any]) -> tuple[list[Any], list[Any], list[Any]]:
    """The obvious diff, as a reference: full indexes, every key compared."""

    def index(items: Sequence[Any]) -> dict[str, Any]:
        keyed: dict[str, Any] = {}
        for item in items:
            key = item_key(item)
            n = 2
            unique = key
            while unique in keyed:
                unique, n = f"{key}#{n}", n + 1
            keyed[unique] = item
        return keyed

    before, after = index(old), index(new)
    added = [(k, v) for k, v in after.items() if k not in before]
    removed = [(k, v) for k, v in before.items() if k not in after]
    changed = [(k, (before[k], v)) for k, v in after.items() if k in before and before[k] != v]
    return added, removed, changed


POOL: list[Any] = [
    *(TracePoint(tp_id, "a.py", line) for tp_id in "abcde" for line in (1, 2)),
    "opaque",
    ("a", "tuple"),
]

edits = st.lists(
    st.one_of(
        st.tuples(st.just("replace"), st.integers(0, 50), st.sampled_from(POOL)),
        st.tuples(st.just("copy"), st.integers(0, 50), st.none()),
        st.tuples(st.just("insert"), st.integers(0, 50), st.sampled_from(POOL)),
        st.tuples(st.just("delete"), st.integers(0, 50), st.none()),
    ),
    max_size=6,
)


@given(st.lists(st.sampled_from(POOL), max_size=12), edits, st.booleans())
def test_diff_matches_the_obvious_diff(
    old_list: list[Any], changes: list[Any], as_tuple: bool
) -> None:
    """The fast diff equals a full comparison, order included, shared objects or not, cached too."""
    new_list = list(old_list)
    for op, at, item in changes:
        if op == "insert":
            new_list.insert(at % (len(new_list) + 1), item)
        elif new_list and op == "replace":
            new_list[at % len(new_list)] = item
        elif new_list and op == "copy":
            position = at % len(new_list)
            original = new_list[position]
            if isinstance(original, TracePoint):
                new_list[position] = dataclasses.replace(original)
        elif new_list and op == "delete":
            del new_list[at % len(new_list)]
    old: Sequence[Any] = tuple(old_list) if as_tuple else old_list
    new: Sequence[Any] = tuple(new_list) if as_tuple else new_list
    expected = naive_diff(old, new)
    for _ in range(2):
        diff = ConfigDiff.between(old, new)
        got = (list(diff.added.items()), list(diff.removed.items()), list(diff.changed.items()))
        assert got == expected


def test_diff_of_a_large_config_with_one_change() -> None:
    """One edited tracepoint among 10,000 shows as exactly one change."""
    old = tuple(TracePoint(f"tp{n}", "a.py", n + 1) for n in range(10_000))
    edited = dataclasses.replace(old[4_321], args={"fire_count": "-1"})
    new = (*old[:4_321], edited, *old[4_322:])
    diff = ConfigDiff.between(old, new)
    assert (diff.added, diff.removed) == ({}, {})
    assert diff.changed == {"tp4321": (old[4_321], edited)}
