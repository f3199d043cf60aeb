"""Which targeted tracepoints each client resource matches, kept per resource across changes.

Matching every targeted tracepoint against a client's resource on every poll
costs the whole config each time (about 25 ms for 10,000 targeted tracepoints),
and after a change every held poll would match again. Instead the result is
kept per resource (by its serialized bytes) as the set of matched tracepoint
digests. Whether a tracepoint matches depends on its ``targeting`` alone, and
equal digests mean equal targeting, so after a change a kept result needs only
the removed digests taken out and the added tracepoints matched: the cost of a
change is the changed tracepoints per resource, not the config.

Tracepoints sharing one ``targeting`` are matched once. A long match (a new
resource, or a change of many targeted tracepoints) goes ``YIELD_EVERY`` tracepoints
at a time, the loop running other polls in between. The resources kept are
bounded, the least recently used going first. Not thread-safe: the server uses
it from its event loop only.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from confighub.model import TargetValue
from confighub.server._targeting import Attributes, matches, resource_attributes

__all__ = ["DEFAULT_MAX_RESOURCES", "NOTHING", "YIELD_EVERY", "MatchCache"]

DEFAULT_MAX_RESOURCES: Final = 4096
"""Client resources whose matches are kept at most."""

NOTHING: Final[frozenset[bytes]] = frozenset()

YIELD_EVERY: Final = 1000
"""Targeted tracepoints matched between two turns of the event loop (about 2 ms of work)."""


@dataclass(slots=True)
class _Entry:
    attributes: Attributes
    version: int
    matched: frozenset[bytes]


class MatchCache:
    """The digests of the targeted tracepoints each resource matches, in the current version."""

    def __init__(self, *, max_resources: int = DEFAULT_MAX_RESOURCES) -> None:
        if max_resources < 1:
            raise ValueError(f"max_resources must be >= 1, got {max_resources!r}")
        self.matchings = 0
        """Targeting maps matched against a resource so far (a measure of the work done)."""
        self._max_resources = max_resources
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self.version = -1
        self._previous = -1
        self._targeted: dict[bytes, Mapping[str, TargetValue]] = {}
        self._added: dict[bytes, Mapping[str, TargetValue]] = {}
        self._removed: frozenset[bytes] = NOTHING

    def __len__(self) -> int:
        return len(self._entries)

    def update(self, version: int, targeted: dict[bytes, Mapping[str, TargetValue]]) -> None:
        """Move to a new store version; what changed since the last is kept for the catch-up.

        ``targeted`` maps the digests of its targeted tracepoints to their targeting.
        """
        old = self._targeted
        self._added = {d: t for d, t in targeted.items() if d not in old}
        self._removed = frozenset(d for d in old if d not in targeted)
        self._previous, self.version, self._targeted = self.version, version, targeted

    @property
    def targeting(self) -> bool:
        """Whether the current version has targeted tracepoints at all."""
        return bool(self._targeted)

    def matched(self, key: bytes, resource: Any) -> frozenset[bytes]:
        """The digests of the current targeted tracepoints that ``resource`` matches.

        ``key`` is the resource serialized (deterministically): what a result is kept by.
        """
        if not self._targeted:
            return NOTHING
        entry = self._entries.get(key)
        if entry is None:
            attributes = resource_attributes(resource)
            entry = _Entry(attributes, self.version, self._match(self._targeted, attributes))
            self._keep(key, entry)
            return entry.matched
        self._entries.move_to_end(key)
        if entry.version == self.version:
            return entry.matched
        if entry.version == self._previous:
            matched = entry.matched
            if not self._removed.isdisjoint(matched):
                matched -= self._removed
            added = self._match(self._added, entry.attributes)
            entry.matched = matched | added if added else matched
        else:  # more than one version behind: what changed in between is not kept
            entry.matched = self._match(self._targeted, entry.attributes)
        entry.version = self.version
        return entry.matched

    async def prepare(self, key: bytes, resource: Any) -> None:
        """Bring ``resource``'s matches up to date, letting the loop run during a long match.

        ``matched`` then finds them current (unless the store changed meanwhile). A
        catch-up of fewer than ``YIELD_EVERY`` targeted tracepoints is left to it.
        """
        while self._targeted:
            version = self.version
            entry = self._entries.get(key)
            if entry is not None and entry.version == version:
                return
            behind_one = entry is not None and entry.version == self._previous
            if len(self._added if behind_one else self._targeted) < YIELD_EVERY:
                return
            attributes = resource_attributes(resource) if entry is None else entry.attributes
            items = list(self._targeted.items())
            verdicts: dict[Mapping[str, TargetValue], bool] = {}
            chosen: set[bytes] = set()
            for start in range(0, len(items), YIELD_EVERY):
                chunk = dict(items[start : start + YIELD_EVERY])
                chosen |= self._match(chunk, attributes, verdicts)
                await asyncio.sleep(0)  # one chunk at a time: other polls are answered between
            if self.version == version:  # else the store changed meanwhile: match again
                self._keep(key, _Entry(attributes, version, frozenset(chosen)))
                return

    def _keep(self, key: bytes, entry: _Entry) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_resources:
            self._entries.popitem(last=False)

    def share(self, key: bytes, matched: frozenset[bytes]) -> None:
        """Keep ``matched`` (an equal set) for ``key``: one set object per view, not one each."""
        entry = self._entries.get(key)
        if entry is not None and entry.version == self.version:
            entry.matched = matched

    def _match(
        self,
        targeted: Mapping[bytes, Mapping[str, TargetValue]],
        attributes: Attributes,
        verdicts: dict[Mapping[str, TargetValue], bool] | None = None,
    ) -> frozenset[bytes]:
        if verdicts is None:
            verdicts = {}
        chosen = []
        for digest, targeting in targeted.items():
            verdict = verdicts.get(targeting)
            if verdict is None:
                verdict = verdicts[targeting] = matches(targeting, attributes)
                self.matchings += 1
            if verdict:
                chosen.append(digest)
        return frozenset(chosen)
