"""Stores keep the tracepoints that did not change: consecutive configs share those objects."""

from __future__ import annotations

from pathlib import Path

import pytest

from confighub import ConfigHub, TracePoint, config_hash
from confighub.sources import FileSource
from confighub.stores import FileStore, MemoryStore
from tests.support.edits import replace_file

ENTRIES = {
    "a": "  - {id: a, path: shop/a.py, line: 1, args: {fire_count: '5'}}\n",
    "b": "  - {id: b, path: shop/b.py, line: 2, targeting: {env: [prod, dev]}}\n",
    "c": "  - {id: c, path: shop/c.py, line: 3, watches: [total]}\n",
}


def text(**edits: str) -> str:
    """The file of ENTRIES, each entry named in ``edits`` replaced by its text there."""
    return "tracepoints:\n" + "".join(edits.get(name, entry) for name, entry in ENTRIES.items())


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """A YAML file holding the three ENTRIES."""
    path = tmp_path / "tracepoints.yaml"
    path.write_text(text(), encoding="utf-8")
    return path


def by_id(tracepoints: tuple[TracePoint, ...]) -> dict[str, TracePoint]:
    """The tracepoints by id."""
    return {tp.id: tp for tp in tracepoints}


def test_file_store_reload_keeps_the_unchanged_tracepoints(config_file: Path) -> None:
    """An edit of one entry gives a new object for it and the same objects for the others."""
    store = FileStore(config_file, watch=False)
    before = by_id(store.tracepoints)
    replace_file(config_file, text(b="  - {id: b, path: shop/b.py, line: 20}\n"))
    assert store.reload()
    after = by_id(store.tracepoints)
    assert after["a"] is before["a"]
    assert after["c"] is before["c"]
    assert after["b"] is not before["b"]
    assert (after["b"].line, dict(after["b"].targeting)) == (20, {})
    assert store.version == 1
    assert store.hash == config_hash(
        tuple(TracePoint.from_dict(tp.to_dict()) for tp in after.values())
    )


def test_file_store_shares_across_many_versions(config_file: Path) -> None:
    """Over five edits of entry b, entries a and c stay the objects of the first read."""
    store = FileStore(config_file, watch=False)
    first = by_id(store.tracepoints)
    for line in range(10, 15):
        replace_file(config_file, text(b=f"  - {{id: b, path: shop/b.py, line: {line}}}\n"))
        assert store.reload()
        now = by_id(store.tracepoints)
        assert (now["a"], now["c"]) == (first["a"], first["c"])
        assert now["a"] is first["a"]
        assert now["c"] is first["c"]
        assert now["b"].line == line
    assert store.version == 5


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("  - {id: a, path: shop/a.py, line: 1.0, args: {fire_count: '5'}}\n", "'line'"),
        ("  - {id: a, path: shop/a.py, line: 1, args: {fire_count: '-7'}}\n", "fire_count"),
        ("  - {id: c, path: shop/c.py, line: 3, watches: [total]}\n", "duplicate tracepoint id"),
    ],
    ids=["line-equal-but-a-float", "bad-arg", "a-repeated-entry"],
)
def test_a_changed_bad_entry_is_still_refused(config_file: Path, entry: str, reason: str) -> None:
    """An entry equal to a kept one under == but of another type, or invalid, is refused."""
    store = FileStore(config_file, watch=False)
    kept = store.tracepoints
    replace_file(config_file, text(a=entry))
    assert not store.reload()
    assert store.error is not None
    assert reason in store.error.reason
    assert store.tracepoints is kept


def test_after_a_refused_edit_the_last_good_objects_are_reused(config_file: Path) -> None:
    """A bad read in between does not lose the objects the next good read can reuse."""
    store = FileStore(config_file, watch=False)
    before = by_id(store.tracepoints)
    replace_file(config_file, "tracepoints: 3\n")
    assert not store.reload()
    replace_file(config_file, text(c="  - {id: c, path: shop/c.py, line: 30}\n"))
    assert store.reload()
    after = by_id(store.tracepoints)
    assert after["a"] is before["a"]
    assert after["b"] is before["b"]
    assert after["c"].line == 30


def test_values_equal_under_eq_but_typed_apart_are_rebuilt(config_file: Path) -> None:
    """Args true and 1, targeting 1 and 1.0: == calls them equal, the file does not."""
    store = FileStore(config_file, watch=False)
    replace_file(config_file, text(a="  - {id: a, path: shop/a.py, line: 1, args: {x: true}}\n"))
    assert store.reload()
    first_hash = store.hash
    replace_file(config_file, text(a="  - {id: a, path: shop/a.py, line: 1, args: {x: 1}}\n"))
    assert store.reload()
    assert by_id(store.tracepoints)["a"].args["x"] == "1"
    assert store.hash != first_hash
    replace_file(config_file, text(b="  - {id: b, path: shop/b.py, line: 2, targeting: {n: 1}}\n"))
    assert store.reload()
    whole = store.hash
    replace_file(
        config_file, text(b="  - {id: b, path: shop/b.py, line: 2, targeting: {n: 1.0}}\n")
    )
    assert store.reload()
    assert type(by_id(store.tracepoints)["b"].targeting["n"]) is float
    assert store.hash != whole


def test_file_source_hub_config_shares_the_unchanged_items(
    config_file: Path, hub: ConfigHub
) -> None:
    """After an edit of one entry, the hub's server_config holds the other items as they were."""
    with FileSource(config_file, hub) as source:
        before = by_id(hub.server_config)
        replace_file(config_file, text(a="  - {id: a, path: shop/a.py, line: 11}\n"))
        source.reload()
        after = by_id(hub.server_config)
    assert after["a"].line == 11
    assert after["b"] is before["b"]
    assert after["c"] is before["c"]


def test_memory_store_set_keeps_equal_tracepoints() -> None:
    """set() with equal but new objects keeps the stored ones; a changed one is the new object."""
    first = (TracePoint("a", "x.py", 1, {"fire_count": "5"}), TracePoint("b", "y.py", 2))
    store = MemoryStore(first)
    copies = tuple(TracePoint(tp.id, tp.path, tp.line, tp.args) for tp in first)
    moved = TracePoint("b", "y.py", 3)
    state = store.set((copies[0], moved))
    assert state.tracepoints[0] is first[0]
    assert state.tracepoints[1] is moved
    assert store.set((*copies[:1], moved)).version == 1


def test_memory_store_set_does_not_keep_a_tracepoint_that_hashes_apart() -> None:
    """1 and 1.0 as a targeting value are == yet hash apart: set() takes the new object."""
    store = MemoryStore([TracePoint("a", "x.py", 1, targeting={"n": 1})])
    floated = TracePoint("a", "x.py", 1, targeting={"n": 1.0})
    assert floated == store.tracepoints[0]
    state = store.set([floated])
    assert state.tracepoints[0] is floated
    assert state.version == 1


def test_memory_store_versions_share_objects() -> None:
    """Over five sets of freshly built configs, each unchanged tracepoint stays one object."""
    store = MemoryStore([TracePoint(f"tp-{n}", "x.py", n + 1) for n in range(6)])
    first = store.tracepoints
    for version in range(1, 6):
        fresh = [
            TracePoint(tp.id, tp.path, tp.line + (version if n == 0 else 0))
            for n, tp in enumerate(first)
        ]
        state = store.set(fresh)
        assert state.version == version
        assert all(now is then for now, then in zip(state.tracepoints[1:], first[1:], strict=True))
        assert state.tracepoints[0].line == 1 + version
