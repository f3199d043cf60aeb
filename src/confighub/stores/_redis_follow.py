"""``Follower``: one ``RedisStore``'s reading of Redis's change log, in order, on its loop.

It keeps each tenant's config in memory and follows the namespace's change log
(``_redis_scripts``) with a blocking ``XREAD``: the append is what wakes it, so no
notification can be missed the way a pub/sub message is in a disconnect. Each entry
carries the namespace's change number ``seq``; an entry that is not the one after
the last applied (the log was trimmed past it, or Redis went back) makes it read the
whole namespace again in one atomic script, so a config served is always one
revision of Redis's, never a mix. After a reconnect it resumes from the last entry
applied. A quiet wait ends in a look at the namespace's epoch, so a Redis emptied
(or flushed) without a disconnect is noticed within a second.

Writes wait here (``reached``) until the change they made is applied, so the state
a write returns, and what the server then serves, holds it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from redis.exceptions import RedisError

from confighub._internal.text import counted, shown
from confighub._wire.tenants import DEFAULT_TENANT
from confighub.exceptions import StoreUnavailable

if TYPE_CHECKING:
    from confighub.stores._redis import RedisStore
    from confighub.stores._redis_link import RedisLink

__all__ = ["BLOCK_MS", "Follower"]

logger = logging.getLogger("confighub")

BLOCK_MS: Final = 1000
"""How long one ``XREAD`` waits; each quiet wait ends in a check of the namespace's epoch."""
_BATCH: Final = 1000
_FIRST_RETRY: Final = 0.05
_LAST_RETRY: Final = 2.0


class _Gap(Exception):
    """The change log does not go on from the last change applied: read everything again."""


class Follower:
    """The change log follower of ``link``; see the module docstring."""

    def __init__(self, link: RedisLink) -> None:
        self.link = link
        self.epoch: str | None = None
        """The epoch of what is served: a random id, new each time Redis is seeded anew."""
        self.seq = 0
        """The last change applied (changes are numbered anew in each epoch)."""
        self.stream_id = "0-0"
        self.initialized = True
        self.epochs: set[str] = set()
        """The epochs this follower has served: a waiter of an older one waits in vain."""
        self.quiet_behind = 0
        self.reloads = 0
        self._waiters: list[tuple[str, int, asyncio.Future[None]]] = []

    async def run(self) -> None:
        """Follow until cancelled: apply the log, look again after a quiet wait, retry outages."""
        delay = _FIRST_RETRY
        sync, reload = False, False
        while True:
            try:
                if sync:
                    await self.sync(reload)
                    sync = reload = False
                    self.link.up()
                    delay = _FIRST_RETRY
                reply = await self.link.client.xread(
                    {self.link.keys.log: self.stream_id}, count=_BATCH, block=BLOCK_MS
                )
                if reply and self.initialized:
                    await self.apply(reply[0][1])
                else:
                    sync = True  # a quiet wait, or a change while uninitialized: look again
            except _Gap as gap:
                logger.warning("%s: %s; reading the whole config again", self.link.name, gap)
                sync = reload = True
            except (RedisError, OSError) as err:
                self.link.down(err)
                sync = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, _LAST_RETRY)
            except Exception as err:
                # A follower that died would leave this server stale in silence: say so,
                # count it as an outage, and read everything again.
                logger.exception("%s: following the change log failed", self.link.name)
                self.link.down(err)
                sync = reload = True
                await asyncio.sleep(_LAST_RETRY)

    async def sync(self, reload: bool) -> None:
        """Look at the namespace; seed it, read it whole, or resume from the last change."""
        link, seed = self.link, self.link.seed
        epoch, seq = await link.client.mget(link.keys.initialized, link.keys.seq)
        if epoch is None and seed is not None:
            # Not waiting for the follower to read the seed back: it is the caller, and
            # reads the namespace whole next, seed included.
            made = await self.link.writer.set(DEFAULT_TENANT, seed, "", mode="seed", wait=False)
            if made is not None:
                logger.warning(
                    "%s: the namespace %r was not initialized: seeded it with %s",
                    self.link.name,
                    self.link.namespace,
                    counted(len(seed), "tracepoint"),
                )
            epoch, seq = await link.client.mget(link.keys.initialized, link.keys.seq)
        if epoch is None:
            if self.initialized:
                self.initialized = False
                logger.error("%s", self.link.uninitialized())
            return
        seq = int(seq or 0)
        if seq > self.seq and epoch == self.epoch and not reload:
            # Changes are on their way through the log; twice behind while the log is
            # quiet means they will not come (the log was deleted): read it all.
            self.quiet_behind += 1
            reload = self.quiet_behind > 1
        else:
            self.quiet_behind = 0
        if reload or epoch != self.epoch or seq < self.seq or not self.initialized:
            if self.epoch is not None and seq < self.seq and epoch == self.epoch:
                logger.warning(
                    "%s went back from change %d to %d (it lost writes): reading it again",
                    self.link.name,
                    self.seq,
                    seq,
                )
            await self.reload()

    async def reload(self) -> None:
        """Read every tenant's config at one moment, and serve each whole."""
        self.quiet_behind = 0
        keys = self.link.keys
        reply = await self.link.scripts["snapshot"](
            keys=[keys.initialized, keys.seq, keys.log, keys.revs], args=[keys.tracepoints("")]
        )
        epoch, seq, last_id = reply[0], int(reply[1]), reply[2]
        if epoch is None:
            self.initialized = False
            return
        found: dict[str, tuple[int, Sequence[str]]] = {}
        for at in range(3, len(reply), 3):
            tenant, rev = reply[at], reply[at + 1]
            if rev.isdecimal():
                found[tenant] = (int(rev), reply[at + 2])
            else:
                logger.warning(
                    "%s: tenant %s left out, its revision %s is no number",
                    self.link.name,
                    shown(tenant),
                    shown(rev),
                )
        new_epoch = self.epoch is not None and epoch != self.epoch
        for tenant in {*found, *self.link.stores}:
            store = self.link.store(tenant)
            if tenant in found:
                store.load(*found[tenant])
            elif new_epoch and store.state.tracepoints:
                store.keep_unseeded()
            else:
                store.load(0, [])
        was_initialized = self.initialized
        self.epoch, self.seq, self.stream_id = epoch, seq, last_id
        self.epochs.add(epoch)
        self.initialized = True
        self.reloads += 1
        if new_epoch or not was_initialized:
            logger.warning(
                "%s: the namespace %r is initialized", self.link.name, self.link.namespace
            )
        self.wake_waiters()

    async def apply(self, entries: Sequence[tuple[str, dict[str, str]]]) -> None:
        """Apply log entries in order; ``_Gap`` if one is not the next change."""
        touched: dict[str, RedisStore] = {}
        for entry_id, fields in entries:
            try:
                seq, tenant, rev = int(fields["seq"]), fields["tenant"], int(fields["rev"])
                op, tp_id, value = fields["op"], fields["id"], fields["value"]
            except (KeyError, ValueError):
                # Written by hand, or by another program: what it changed is unknown.
                raise _Gap(f"the change log entry {shown(entry_id)} is no change") from None
            if seq != self.seq + 1:
                raise _Gap(f"the change log goes from change {self.seq} to {seq}")
            store = self.link.store(tenant)
            if rev > store.rev:
                if rev != store.rev + 1 and not store.unseeded:
                    raise _Gap(
                        f"tenant {shown(store.tenant_name)} goes from revision {store.rev} to {rev}"
                    )
                if op == "set" or store.unseeded:
                    await self.reload_tenant(store)
                else:
                    store.change(op, tp_id, value, rev)
                touched[store.tenant_name] = store
            self.seq, self.stream_id = seq, entry_id
        for store in touched.values():
            store.publish()
        self.wake_waiters()

    async def reload_tenant(self, store: RedisStore) -> None:
        """Read ``store``'s tenant whole (its revision and tracepoints at one moment)."""
        rev, flat = await self.link.scripts["tenant"](
            keys=[self.link.keys.revs, self.link.keys.tracepoints(store.tenant_name)],
            args=[store.tenant_name],
        )
        store.load(int(rev), flat, publish=False)

    async def reached(self, epoch: str | None, seq: int) -> None:
        """Return once change ``seq`` of ``epoch`` is applied; ``StoreUnavailable`` if not in time.

        Changes are numbered anew in each epoch (each time Redis is seeded anew).
        """
        if epoch is None or (epoch == self.epoch and self.seq >= seq):
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((epoch, seq, waiter))
        try:
            await asyncio.wait_for(waiter, self.link.timeout)
        except TimeoutError:
            raise StoreUnavailable(
                self.link.name,
                f"change {seq} was made, but this server has not read it back within"
                f" {self.link.timeout:g} s; read the config to see it",
            ) from None

    def wake_waiters(self) -> None:
        """Resolve the waiters of changes applied; fail those of an epoch that is gone."""
        waiting = []
        for epoch, seq, waiter in self._waiters:
            if waiter.done():
                continue
            if epoch != self.epoch and epoch in self.epochs:
                waiter.set_exception(
                    StoreUnavailable(self.link.name, "Redis lost this change, and was seeded anew")
                )
            elif epoch == self.epoch and seq <= self.seq:
                waiter.set_result(None)
            else:
                waiting.append((epoch, seq, waiter))
        self._waiters = waiting

    def fail_waiters(self, why: str) -> None:
        waiters, self._waiters = self._waiters, []
        for _, _, waiter in waiters:
            if not waiter.done():
                waiter.set_exception(StoreUnavailable(self.link.name, why))
