"""``Writer``: the writes of one ``RedisStore``, each one script run in Redis, on its loop.

A compare-and-set names the hash the caller read: the writer maps it to the epoch
and revision the store serves and lets the script compare those, after catching up
with Redis when the hash is not the one served. The epoch counts as much as the
revision: revisions start again at 1 each time Redis is seeded anew. A write then
waits until the follower has applied its change.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from confighub._internal.text import shown
from confighub.exceptions import StaleConfig, StoreUnavailable, TracePointExists, UnknownTracePoint
from confighub.model import TracePoint
from confighub.stores._redis_values import SEED_HINT, canonical_json

if TYPE_CHECKING:
    from confighub.stores._redis import RedisStore
    from confighub.stores._redis_link import RedisLink

__all__ = ["Writer"]

_ATTEMPTS: Final = 5


class Writer:
    """The writes of ``link``; see the module docstring."""

    def __init__(self, link: RedisLink) -> None:
        self.link = link

    async def write(
        self, store: RedisStore, op: str, tp_id: str, value: str, expected_hash: str | None
    ) -> str:
        """Run one write of a tracepoint; return the value it replaced ("" for none)."""
        tenant = store.tenant_name
        self.check_available()
        if store.unseeded:
            raise StoreUnavailable(
                self.link.name,
                f"tenant {shown(tenant)} lost its config when Redis was emptied; {SEED_HINT}",
            )
        args = [tenant, op, tp_id, value, "", self.link.log_length, self.link.keys.channel]
        for _ in range(_ATTEMPTS):
            args[4] = await self.expected_rev(store, expected_hash)
            status, seq, _rev, old, epoch = await self.link.scripts["write"](
                keys=self.link.keys.of(tenant), args=args
            )
            if status in ("OK", "SAME", "CONFLICT"):
                await self.link.follower.reached(epoch, int(seq))
                if status != "CONFLICT":
                    return str(old)
                continue
            if status == "EXISTS":
                raise TracePointExists(tp_id)
            if status == "UNKNOWN":
                raise UnknownTracePoint(tp_id)
            raise StoreUnavailable(
                self.link.name, f"namespace {self.link.namespace!r} is not initialized: {SEED_HINT}"
            )
        raise self.contended()

    async def set_config(
        self, store: RedisStore, tracepoints: Sequence[TracePoint], expected_hash: str | None
    ) -> None:
        """Write ``store``'s whole config; this initializes an uninitialized namespace."""
        self.check_available()
        for _ in range(_ATTEMPTS):
            expected_rev = await self.expected_rev(store, expected_hash)
            if await self.set(store.tenant_name, tracepoints, expected_rev, mode="set") is not None:
                return
        raise self.contended()

    async def set(
        self,
        tenant: str,
        tracepoints: Sequence[TracePoint],
        expected_rev: str,
        *,
        mode: str,
        wait: bool = True,
    ) -> int | None:
        """Run the set script; the change number made, or None on a conflict or ALREADY."""
        args: list[Any] = [
            tenant,
            mode,
            expected_rev,
            self.link.log_length,
            self.link.keys.channel,
            uuid.uuid4().hex,
        ]
        for tp in tracepoints:
            args += (tp.id, canonical_json(tp))
        status, seq, _rev, epoch = await self.link.scripts["set"](
            keys=self.link.keys.of(tenant), args=args
        )
        if mode == "seed" and status == "ALREADY":
            return None
        if wait:
            await self.link.follower.reached(epoch, int(seq))
        return int(seq) if status == "OK" else None

    async def expected_rev(self, store: RedisStore, expected_hash: str | None) -> str:
        """The ``"EPOCH REVISION"`` a write expecting ``expected_hash`` compares ("" for none)."""
        if expected_hash is None:
            return ""
        if store.state.hash != expected_hash:
            # Another replica may have served the caller a newer config: catch up first.
            epoch, seq = await self.link.client.mget(self.link.keys.initialized, self.link.keys.seq)
            await self.link.follower.reached(epoch, int(seq or 0))
            if store.state.hash != expected_hash:
                raise StaleConfig(expected_hash, store.state.hash)
        return f"{self.link.follower.epoch} {store.served_rev}"

    def check_available(self) -> None:
        """Refuse a write at once while the follower knows Redis to be away."""
        if not self.link.available:
            raise StoreUnavailable(self.link.name, f"it is unreachable: {self.link.down_reason}")

    def contended(self) -> StoreUnavailable:
        return StoreUnavailable(
            self.link.name,
            f"the config changed {_ATTEMPTS} times while a write waited; try it again",
        )
