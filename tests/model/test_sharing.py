"""Diffs and hashes of configs that share their unchanged objects: exact, and built on the last."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from confighub import ConfigChange, TracePoint, config_hash
from confighub.events import _diffing
from tests.support.strategies import configs, tracepoints


def copied(tp: TracePoint) -> TracePoint:
    """An equal tracepoint that is another object."""
    return TracePoint(tp.id, tp.path, tp.line, tp.args, tp.watches, tp.metrics, tp.targeting)


def reference_diff(
    old: Sequence[TracePoint], new: Sequence[TracePoint]
) -> tuple[dict[str, TracePoint], dict[str, TracePoint], dict[str, tuple[TracePoint, TracePoint]]]:
    """The diff of two configs with unique ids, by value alone."""
    before, after = {tp.id: tp for tp in old}, {tp.id: tp for tp in new}
    added = {key: tp for key, tp in after.items() if key not in before}
    removed = {key: tp for key, tp in before.items() if key not in after}
    changed = {
        key: (before[key], tp) for key, tp in after.items() if key in before and before[key] != tp
    }
    return added, removed, changed


def reference_hash(tracepoints: Sequence[TracePoint]) -> str:
    """config_hash as its docstring defines it: SHA-256 of the sorted digests, sorted afresh."""
    digests = b"".join(sorted(tp.digest for tp in tracepoints))
    return hashlib.sha256(b"confighub-config-v1\n" + digests).hexdigest()[:32]


def fresh_ids(taken: frozenset[str]) -> st.SearchStrategy[str]:
    """Ids that no tracepoint of ``taken`` has."""
    return st.text(min_size=1, max_size=6).filter(lambda tp_id: tp_id not in taken)


@st.composite
def chains(draw: st.DrawFn) -> list[tuple[TracePoint, ...]]:
    """A config and a few edits of it, each sharing the objects it did not change."""
    chain = [tuple(draw(configs(max_size=6)))]
    for _ in range(draw(st.integers(1, 4))):
        items = list(chain[-1])
        edit = draw(st.sampled_from(["change", "add", "remove", "swap", "replace"]))
        at = draw(st.integers(0, max(len(items) - 1, 0)))
        taken = frozenset(tp.id for tp in items)
        fresh = tracepoints(ids=fresh_ids(taken))
        if edit == "add" or not items:
            items.insert(draw(st.integers(0, len(items))), draw(fresh))
        elif edit == "change":
            items[at] = draw(tracepoints(ids=st.just(items[at].id)))
        elif edit == "remove":
            del items[at]
        elif edit == "swap":
            other = draw(st.integers(0, len(items) - 1))
            items[at], items[other] = items[other], items[at]
        else:
            items[at] = draw(fresh)
        chain.append(tuple(items))
    return chain


@given(chains(), st.booleans())
def test_a_chain_of_diffs_is_exact(chain: list[tuple[TracePoint, ...]], copy: bool) -> None:
    """Each change's diff is the diff by value, with shared or with equal copied items."""
    if copy:
        chain = [chain[0], *(tuple(map(copied, config)) for config in chain[1:])]
    for old, new in pairwise(chain):
        assert tuple(ConfigChange(0, None, None, old, new).diff) == reference_diff(old, new)


@given(chains())
def test_a_chained_index_is_the_index_built_afresh(chain: list[tuple[TracePoint, ...]]) -> None:
    """The index a diff leaves for its new config holds what build_index gives, in its order."""
    for old, new in pairwise(chain):
        assert tuple(ConfigChange(0, None, None, old, new).diff) == reference_diff(old, new)
        indexed, unique = _diffing.index(new)
        assert list(indexed.items()) == list(_diffing.build_index(new)[0].items())
        assert unique


def test_a_chain_of_diffs_builds_the_first_index_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over edits in place, appends and removals, only the first old config's index is built."""
    built: list[int] = []
    build = _diffing.build_index

    def counting(config: Sequence[TracePoint]) -> tuple[dict[str, TracePoint], bool]:
        built.append(len(config))
        return build(config)

    monkeypatch.setattr(_diffing, "build_index", counting)
    config = tuple(TracePoint(f"tp-{n}", "x.py", n + 1) for n in range(100))
    for step in range(30):
        items = list(config)
        if step % 3 == 0:
            items[step] = TracePoint(items[step].id, "y.py", 7)
        elif step % 3 == 1:
            items.append(TracePoint(f"new-{step}", "z.py", 1))
        else:
            del items[-5]
        new = tuple(items)
        assert tuple(ConfigChange(0, None, None, config, new).diff) == reference_diff(config, new)
        config = new
    assert built == [100]


@given(chains())
def test_hashes_along_a_chain_are_the_hashes_sorted_afresh(
    chain: list[tuple[TracePoint, ...]],
) -> None:
    """config_hash of each version, shared objects and all, is the hash of its sorted digests."""
    for config in chain:
        assert config_hash(config) == reference_hash(config)


def test_hash_after_many_changes_and_with_duplicates() -> None:
    """Past the changes moved one by one, and with one object twice, the hash is still exact."""
    base = tuple(TracePoint(f"tp-{n}", "x.py", n + 1) for n in range(300))
    assert config_hash(base) == reference_hash(base)
    many = tuple(
        TracePoint(tp.id, tp.path, tp.line + 1) if n % 2 else tp for n, tp in enumerate(base)
    )
    assert config_hash(many) == reference_hash(many)
    doubled = (*many[:10], many[0], *many[10:])
    assert config_hash(doubled) == reference_hash(doubled)
    fewer = doubled[:5] + doubled[6:]
    assert config_hash(fewer) == reference_hash(fewer)
    assert config_hash(list(fewer)) == config_hash(fewer)


def test_shared_versions_hash_as_rebuilt_ones() -> None:
    """N versions that share objects hash as the same versions built afresh."""
    config = tuple(TracePoint(f"tp-{n}", "x.py", n + 1, targeting={"n": n}) for n in range(50))
    for version in range(8):
        items = list(config)
        items[(version * 7) % 50] = TracePoint(f"tp-{version}", "w.py", 100 + version)
        config = tuple(items)
        assert config_hash(config) == config_hash(tuple(map(copied, config)))
