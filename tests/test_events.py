"""ConfigChange and ConfigDiff: unpacking, keys, and what a diff reports."""

from __future__ import annotations

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
