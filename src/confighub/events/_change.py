"""``ConfigChange``, what the hub publishes per change, and its ``ConfigDiff``.

Items are opaque to the hub: confighub's own ``TracePoint`` values, or the
trigger objects of a Deep agent. A diff keys every item by its ``id`` when it
has one (so a tracepoint edited in place shows as *changed*), and by its
``repr`` otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MethodType
from typing import Final, NamedTuple, cast

from confighub.events._diffing import Item, build_index, diff_parts
from confighub.events._html import change_html, diff_html

__all__ = ["ConfigChange", "ConfigDiff", "items_by_key", "new_change"]


def items_by_key(items: Iterable[Item]) -> dict[str, Item]:
    """Index ``items`` by :func:`item_key`; a repeated key gets ``#2``, ``#3``… so none is lost."""
    return build_index(tuple(items))[0]


class ConfigDiff(NamedTuple):
    """How one config differs from another, keyed by item id.

    ``changed`` maps an id to its ``(before, after)`` pair.
    """

    added: Mapping[str, Item]
    removed: Mapping[str, Item]
    changed: Mapping[str, tuple[Item, Item]]

    @classmethod
    def between(cls, old: Iterable[Item], new: Iterable[Item]) -> ConfigDiff:
        """The diff that turns ``old`` into ``new``.

        Cheap for configs that share most of their item objects, as consecutive
        configs of a hub do: only positions whose objects differ are compared.
        """
        return cls(*diff_parts(old, new))

    @property
    def empty(self) -> bool:
        """True when nothing was added, removed or changed."""
        return not (self.added or self.removed or self.changed)

    @property
    def touched(self) -> frozenset[str]:
        """The ids of every item added, removed or changed."""
        return frozenset(self.added) | frozenset(self.removed) | frozenset(self.changed)

    def _repr_html_(self) -> str:
        """An HTML table of this diff, for Jupyter's rich display."""
        return diff_html(self)


class ConfigChange(NamedTuple):
    """One change of the effective config, as published on ``ConfigHub.changes``.

    ``ts`` is nanoseconds since the epoch (the Deep wire unit); ``old`` and
    ``new`` are tuples of items; ``old_hash`` is ``None`` before the first
    config. Unpacks as ``ts, old_hash, new_hash, old, new = change``.
    """

    ts: int
    old_hash: str | None
    new_hash: str | None
    old: tuple[Item, ...]
    new: tuple[Item, ...]

    @property
    def diff(self) -> ConfigDiff:
        """What this change added, removed and changed."""
        return ConfigDiff.between(self.old, self.new)

    def _repr_html_(self) -> str:
        """An HTML table of this change, for Jupyter's rich display."""
        return change_html(self)


ChangeFields = tuple[int, str | None, str | None, tuple[Item, ...], tuple[Item, ...]]

# The one speed trick of the stream: tuple.__new__ skips the NamedTuple constructor's
# argument handling, and bound to the class as a method it is called as cheaply as
# directly (a functools.partial costs a fifth more). Publishers build one per event.
new_change: Final = cast(
    Callable[[ChangeFields], ConfigChange], MethodType(tuple.__new__, ConfigChange)
)
"""Build a ``ConfigChange`` from its five fields as one tuple, at the cost of a tuple."""
