"""Recording what a hub publishes, and predicates on the statuses it went through."""

from __future__ import annotations

from collections.abc import Callable

from confighub import ConfigChange, ConfigHub, SourceState, SourceStatus
from tests.support.waiting import Recorder


def record_changes(hub: ConfigHub) -> Recorder[ConfigChange]:
    """A recorder subscribed to ``hub.changes``."""
    recorder: Recorder[ConfigChange] = Recorder()
    hub.changes.subscribe(recorder)
    return recorder


def record_status(hub: ConfigHub) -> Recorder[SourceStatus]:
    """A recorder subscribed to ``hub.status``."""
    recorder: Recorder[SourceStatus] = Recorder()
    hub.status.subscribe(recorder)
    return recorder


def watch(hub: ConfigHub) -> tuple[Recorder[ConfigChange], Recorder[SourceStatus]]:
    """Recorders of ``hub``'s changes and statuses, subscribed in that order."""
    return record_changes(hub), record_status(hub)


def states(statuses: list[SourceStatus]) -> list[SourceState]:
    """The state of each status, in order."""
    return [status.state for status in statuses]


def counts(state: SourceState, n: int) -> Callable[[list[SourceStatus]], bool]:
    """A predicate for ``Recorder.wait_for``: ``state`` occurs exactly ``n`` times."""
    return lambda items: states(items).count(state) == n
