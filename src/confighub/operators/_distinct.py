"""The machinery of ``distinct_config``: drop changes that lead to the config last emitted."""

from __future__ import annotations

from reactivex import Observable, abc

from confighub.events import ConfigChange

__all__ = ["distinct"]


def distinct(source: Observable[ConfigChange]) -> Observable[ConfigChange]:
    """``source`` without the changes that lead to the config last emitted, chain kept."""

    def subscribe(
        observer: abc.ObserverBase[ConfigChange], scheduler: abc.SchedulerBase | None
    ) -> abc.DisposableBase:
        last: ConfigChange | None = None

        def on_next(change: ConfigChange) -> None:
            nonlocal last
            if last is not None:
                if change.new_hash == last.new_hash:
                    return
                if change.old_hash != last.new_hash:
                    change = change._replace(old_hash=last.new_hash, old=last.new)
            elif change.old_hash == change.new_hash:
                return
            last = change
            observer.on_next(change)

        return source.subscribe(
            on_next, observer.on_error, observer.on_completed, scheduler=scheduler
        )

    return Observable(subscribe)
