"""Narrowing a change stream to the tracepoints a predicate keeps.

Each event becomes the change of the *view*: the items of ``old`` and ``new``
that the predicate keeps, with the hashes of those views. Events that leave
the view unchanged are dropped. Because every upstream event starts where the
previous one ended, so does every narrowed one: the chain invariant holds.
"""

from __future__ import annotations

from collections.abc import Callable

from reactivex import Observable, abc

from confighub.events import ConfigChange, Item, new_change
from confighub.model import view_hash

__all__ = ["narrowed"]


def narrowed(
    source: Observable[ConfigChange], keep: Callable[[Item], bool]
) -> Observable[ConfigChange]:
    """``source`` reduced to the items ``keep`` accepts, dropping events that leave them alone."""

    def subscribe(
        observer: abc.ObserverBase[ConfigChange], scheduler: abc.SchedulerBase | None
    ) -> abc.DisposableBase:
        # The view of the last upstream config: the next event starts from that config, so
        # its old view is known without filtering (or hashing) it again.
        last_config: tuple[Item, ...] | None = None
        last_view: tuple[Item, ...] = ()
        last_hash: str | None = None

        def on_next(change: ConfigChange) -> None:
            nonlocal last_config, last_view, last_hash
            if change.old is last_config:
                old_view, old_hash = last_view, last_hash
            else:
                old_view = tuple(filter(keep, change.old))
                old_hash = view_hash(old_view) if change.old_hash is not None else None
            new_view = tuple(filter(keep, change.new))
            if new_view == old_view and old_hash is not None:
                new_hash = old_hash
            else:
                new_hash = view_hash(new_view)
            last_config, last_view, last_hash = change.new, new_view, new_hash
            if new_hash != old_hash and (old_view or new_view):
                observer.on_next(new_change((change.ts, old_hash, new_hash, old_view, new_view)))

        return source.subscribe(
            on_next, observer.on_error, observer.on_completed, scheduler=scheduler
        )

    return Observable(subscribe)
