"""The machinery of ``diffs``, ``added``, ``removed`` and ``changed``: parts of each change."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from reactivex import Observable, abc

from confighub.events import ConfigChange

__all__ = ["each_of"]

_T = TypeVar("_T")


def each_of(
    extract: Callable[[ConfigChange], Iterable[_T]],
) -> Callable[[Observable[ConfigChange]], Observable[_T]]:
    """An operator emitting, for each change, every value ``extract`` gives, in order."""

    def operator(source: Observable[ConfigChange]) -> Observable[_T]:
        def subscribe(
            observer: abc.ObserverBase[_T], scheduler: abc.SchedulerBase | None
        ) -> abc.DisposableBase:
            def on_next(change: ConfigChange) -> None:
                for value in extract(change):
                    observer.on_next(value)

            return source.subscribe(
                on_next, observer.on_error, observer.on_completed, scheduler=scheduler
            )

        return Observable(subscribe)

    return operator
