"""Pipeable operators for config change streams.

Each works on an ``Observable[ConfigChange]`` (``stale_after`` on heartbeats)
and is used with ``pipe``::

    hub.changes.pipe(only_paths("shop/*"), debounce_changes(0.5)).subscribe(print)

The operators that emit changes keep the chain invariant: each event they
emit starts where the previous one ended. Time-based operators take
``scheduler=`` (a reactivex ``TestScheduler`` drives them in virtual time);
without one they use the scheduler given to ``subscribe``, else one shared
timer thread. Arguments are checked when the operator is made, so a bad one
fails at ``pipe`` time, naming the argument.

In the marble diagrams, ``a→c`` is one change from ``a``'s old config to
``c``'s new one.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from reactivex import Observable, abc

from confighub.events import ConfigChange, ConfigDiff, Item
from confighub.operators import _arguments, _conflate, _debounce, _diffs, _distinct, _narrow, _stale
from confighub.operators._stale import Freshness

__all__ = [
    "ChangeOperator",
    "Freshness",
    "added",
    "changed",
    "conflate",
    "debounce_changes",
    "diffs",
    "distinct_config",
    "only_paths",
    "removed",
    "stale_after",
    "touching",
]

ChangeOperator = Callable[[Observable[ConfigChange]], Observable[ConfigChange]]
"""What the change operators return: a function from one change stream to another."""


def debounce_changes(
    duetime: float | timedelta, scheduler: abc.SchedulerBase | None = None
) -> ChangeOperator:
    """Coalesce each burst of changes into one, emitted ``duetime`` after the burst's last event.

    ::

        changes:  -a-b-c---------d--|
        debounce_changes(3)
        result:   --------(a→c)-----d|

    The emitted change runs from the burst's first ``old``/``old_hash`` to its
    last ``new``/``new_hash`` (``ts`` of the last). A burst that ends where it
    began emits nothing. One timer per burst, not one per event; a pending
    burst is emitted before completion or error.
    """
    due = _arguments.duration("debounce_changes", "duetime", duetime, allow_zero=True)
    return lambda source: _debounce.debounced(source, due, scheduler)


def only_paths(*globs: str) -> ChangeOperator:
    """Keep the changes that touch tracepoints whose path matches a glob, narrowed to those.

    ::

        changes:       -a---b---c--|      b touches only cart.py
        only_paths("shop/checkout*")
        result:        -a'------c'-|

    Globs follow ``fnmatch`` (``*`` also crosses ``/``). Each emitted change
    holds only the matching items, with the hashes of those views.
    """
    if not globs:
        raise ValueError("only_paths: give at least one glob, such as 'shop/*.py'")
    for glob in globs:
        if not isinstance(glob, str) or not glob:
            raise TypeError(f"only_paths: each glob must be a non-empty str, got {glob!r}")
    patterns = tuple(globs)
    verdicts: dict[str, bool] = {}

    def keep(item: Item) -> bool:
        path = getattr(item, "path", None)
        if not isinstance(path, str):
            return False
        verdict = verdicts.get(path)
        if verdict is None:
            verdict = any(fnmatch.fnmatchcase(path, p) for p in patterns)
            if len(verdicts) < 100_000:
                verdicts[path] = verdict
        return verdict

    return lambda source: _narrow.narrowed(source, keep)


def touching(predicate: Callable[[Item], bool]) -> ChangeOperator:
    """Keep the changes that touch items ``predicate`` accepts, narrowed to those items.

    ::

        changes:                 -a---b---c--|
        touching(lambda tp: "log_msg" in tp.args)
        result:                  -a'------c'-|
    """
    if not callable(predicate):
        raise TypeError(f"touching: predicate must be callable, got {predicate!r}")
    return lambda source: _narrow.narrowed(source, predicate)


def diffs() -> Callable[[Observable[ConfigChange]], Observable[ConfigDiff]]:
    """Each change's ``ConfigDiff``.

    ::

        changes:  -a---b--|
        diffs()
        result:   -A---B--|      A = a.diff
    """
    return _diffs.each_of(lambda change: (change.diff,))


def added() -> Callable[[Observable[ConfigChange]], Observable[Item]]:
    """Each item a change added, one event per item.

    ::

        changes:  -a-----b--|     a adds x and y; b adds z
        added()
        result:   -(xy)--z--|
    """
    return _diffs.each_of(lambda change: change.diff.added.values())


def removed() -> Callable[[Observable[ConfigChange]], Observable[Item]]:
    """Each item a change removed, one event per item.

    ::

        changes:  -a-----b--|     a removes x; b removes y
        removed()
        result:   -x-----y--|
    """
    return _diffs.each_of(lambda change: change.diff.removed.values())


def changed() -> Callable[[Observable[ConfigChange]], Observable[tuple[Item, Item]]]:
    """Each item a change edited in place, as a ``(before, after)`` pair, one event per item.

    ::

        changes:  -a-----b--|     a edits x; b edits nothing
        changed()
        result:   -X--------|     X = (x before, x after)
    """
    return _diffs.each_of(lambda change: change.diff.changed.values())


def distinct_config() -> ChangeOperator:
    """Drop changes that lead to the config last emitted; the next one starts from it.

    ::

        changes:  -a-b-a'-c-|     a' repeats a (same new hash)
        distinct_config()
        result:   -a-b----c-|

    Useful on streams merged from several sources, or replayed over a live
    one: every emitted event starts where the previous emitted one ended.
    """
    return _distinct.distinct


def conflate(scheduler: abc.SchedulerBase | None = None) -> ChangeOperator:
    """Deliver on ``scheduler``, latest only: a slow observer gets one coalesced change.

    ::

        changes:   -a-b-c-d-e----|          observer busy from b to e
        conflate(s)
        observer:  -a-----(b→d)--e|

    The publisher only records the event and returns; while the observer is
    busy, waiting changes coalesce as in ``debounce_changes`` (at most one
    waits), so memory does not grow with the backlog, the chain invariant
    holds and the observer ends on the final config. Without a scheduler,
    each subscription gets a thread of its own.
    """
    if scheduler is not None and not isinstance(scheduler, abc.SchedulerBase):
        raise TypeError(f"conflate: scheduler must be a reactivex scheduler, got {scheduler!r}")
    return lambda source: _conflate.conflated(source, scheduler)


def stale_after(
    period: float | timedelta, scheduler: abc.SchedulerBase | None = None
) -> Callable[[Observable[Any]], Observable[Freshness]]:
    """Over ``hub.heartbeats``: STALE after ``period`` without a poll, FRESH on the next one.

    ::

        heartbeats:  -h-h-h---------h-h--|
        stale_after(5)
        result:      -F---------S---F----|

    Emits only transitions. The period starts at subscription, so a source
    that never polls turns STALE after ``period``:
    ``hub.heartbeats.pipe(stale_after(30)).subscribe(alert)``.
    """
    due = _arguments.duration("stale_after", "period", period, allow_zero=False)
    return lambda heartbeats: _stale.staleness(heartbeats, due, scheduler)
