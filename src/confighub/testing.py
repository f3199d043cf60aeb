"""Test helpers for code that consumes confighub streams; a pytest plugin.

Installing confighub registers this module with pytest (entry point
``pytest11``), which provides three fixtures:

- ``virtual_scheduler``: a reactivex ``TestScheduler`` (virtual time, in seconds);
- ``config_hub``: a ``ConfigHub`` whose clock is that scheduler's, closed after the test;
- ``make_tracepoint``: builds valid ``TracePoint`` values with fresh ids and lines.

And two assertions, ``assert_changes`` and ``assert_chain``, which compare
by hashes and diffs and name configs by their marble letters. The marble and
virtual-time helpers they work with (``changes_from_marbles``,
``expected_changes``, ``run_virtual``, ``feed_hub``) are in ``confighub.virtual``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

import pytest
from reactivex.testing import TestScheduler

from confighub._internal.text import short_hash
from confighub.events import ConfigChange
from confighub.hub import ConfigHub
from confighub.model import TracePoint, view_hash
from confighub.virtual import Configs, Timed, VirtualRun, virtual_clock

__all__ = [
    "TracePointFactory",
    "assert_chain",
    "assert_changes",
    "config_hub",
    "make_tracepoint",
    "virtual_scheduler",
]


class TracePointFactory(Protocol):
    """Builds a valid tracepoint; every argument is optional."""

    def __call__(
        self,
        path: str = ...,
        line: int | None = ...,
        *,
        id: str | None = ...,
        **args: str,
    ) -> TracePoint:
        """A tracepoint at ``path``:``line`` with ``args``."""


def assert_changes(
    actual: Sequence[ConfigChange] | Sequence[Timed] | VirtualRun[ConfigChange],
    expected: Sequence[ConfigChange] | Sequence[Timed],
    *,
    names: Configs | None = None,
) -> None:
    """Assert two change streams agree on hashes and diffs (and times, when both are timed).

    ``ts`` is not compared. ``names`` (the configs given to the marbles) lets
    the failure message call configs by their letters.
    """
    got = actual.events if isinstance(actual, VirtualRun) else list(actual)
    want = list(expected)
    letters = {view_hash(tuple(config)): name for name, config in (names or {}).items()}
    timed = bool(got and want and isinstance(got[0][0], float) and isinstance(want[0][0], float))
    problems: list[str] = []
    for index, (g, w) in enumerate(itertools.zip_longest(got, want)):
        if g is None or w is None:
            side, extra = ("missing", w) if g is None else ("unexpected", g)
            problems.append(f"event {index}: {side} {_describe(extra, letters)}")
        elif _signature(g, timed) != _signature(w, timed):
            problems.append(
                f"event {index}: expected {_describe(w, letters)}\n"
                f"{' ' * len(f'event {index}: ')}     got {_describe(g, letters)}"
            )
    if problems:
        pytest.fail(
            f"change streams differ ({len(got)} events, {len(want)} expected):\n"
            + "\n".join(problems),
            pytrace=False,
        )


def assert_chain(changes: Sequence[ConfigChange] | VirtualRun[ConfigChange]) -> None:
    """Assert that each change starts where the previous one ended (hash and config)."""
    items = changes.values if isinstance(changes, VirtualRun) else list(changes)
    for index, (a, b) in enumerate(itertools.pairwise(items), start=1):
        if b.old_hash != a.new_hash or b.old != a.new:
            pytest.fail(
                f"chain broken at event {index}: it starts from {b.old_hash} with"
                f" {len(b.old)} items, the previous one ended at {a.new_hash} with"
                f" {len(a.new)} items",
                pytrace=False,
            )


def _change_of(event: Any) -> tuple[float | None, ConfigChange]:
    if isinstance(event, ConfigChange):
        return None, event
    return event[0], event[1]


def _signature(event: Any, timed: bool) -> tuple[Any, ...]:
    time, change = _change_of(event)
    diff = change.diff
    return (
        time if timed else None,
        change.old_hash,
        change.new_hash,
        sorted(diff.added),
        sorted(diff.removed),
        sorted(diff.changed),
    )


def _describe(event: Any, letters: Mapping[str, str]) -> str:
    time, change = _change_of(event)
    diff = change.diff

    def name(config_hash: str | None) -> str:
        if config_hash is None:
            return "None"
        return letters.get(config_hash, short_hash(config_hash))

    parts = [f"+{key}" for key in diff.added]
    parts += [f"-{key}" for key in diff.removed]
    parts += [f"~{key}" for key in diff.changed]
    when = f"at {time:g} " if time is not None else ""
    return (
        f"{when}{name(change.old_hash)}→{name(change.new_hash)} ({', '.join(parts) or 'no diff'})"
    )


@pytest.fixture
def virtual_scheduler() -> TestScheduler:
    """A reactivex ``TestScheduler``: time moves only when the test runs it."""
    return TestScheduler()


@pytest.fixture
def config_hub(virtual_scheduler: TestScheduler) -> Iterator[ConfigHub]:
    """A ``ConfigHub`` stamping changes with ``virtual_scheduler``'s time; closed afterwards."""
    with ConfigHub(clock=virtual_clock(virtual_scheduler)) as hub:
        yield hub


@pytest.fixture
def make_tracepoint() -> TracePointFactory:
    """Builds valid tracepoints; ids ``tp-1``, ``tp-2``… and lines 1, 2… unless given."""
    counter = itertools.count(1)

    def make(
        path: str = "app.py",
        line: int | None = None,
        *,
        id: str | None = None,
        **args: str,
    ) -> TracePoint:
        n = next(counter)
        return TracePoint(id or f"tp-{n}", path, line if line is not None else n, args)

    return make
