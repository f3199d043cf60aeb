"""``RedisLink``: the connection, the change log follower and the writes of one ``RedisStore``.

Every tenant store of a ``RedisStore`` shares one link. It runs on one event loop
(a ``HubServer``'s, or a thread of its own), where it keeps each tenant's config in
memory and follows Redis's change log (``_redis_scripts``) with a blocking
``XREAD``: the append is what wakes it, so no notification can be missed the way a
pub/sub message is in a disconnect. Each entry carries the namespace's change
number ``seq``; an entry that is not the one after the last applied (the log was
trimmed past it, or Redis went back) makes the link read the whole namespace again
in one atomic script, so a config served is always one revision of Redis's, never
a mix. After a reconnect it resumes from the last entry applied.

A write is one script run; its caller then waits until the follower has applied
that change, so the state a write returns, and what the server then serves, holds
it. A compare-and-set names the hash the caller read: the link maps it to the
epoch and revision it serves and lets the script compare those, after catching up
with Redis when the hash is not the one it serves. The epoch counts as much as the
revision: revisions start again at 1 each time Redis is seeded anew.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError

from confighub._internal.text import counted, cut, short_hash, shown
from confighub._internal.urls import safe_url
from confighub._wire.tenants import DEFAULT_TENANT
from confighub.exceptions import StaleConfig, StoreUnavailable, TracePointExists, UnknownTracePoint
from confighub.model import TracePoint
from confighub.stores import _redis_scripts as scripts

if TYPE_CHECKING:
    from confighub.stores._redis import RedisStore

__all__ = ["RedisLink", "canonical_json", "parse_value"]

logger = logging.getLogger("confighub")

_BLOCK_MS: Final = 1000
"""How long one ``XREAD`` waits; each quiet wait ends in a check of the namespace's epoch."""
_BATCH: Final = 1000
_FIRST_RETRY: Final = 0.05
_LAST_RETRY: Final = 2.0
_ATTEMPTS: Final = 5
_CANCEL_AGAIN: Final = 0.01
_MAX_VALUE: Final = 1024 * 1024
_SEED_HINT: Final = (
    "write the whole config (confighub tp apply FILE, or PUT /api/tracepoints)"
    " or start a server with --seed FILE"
)


class _Gap(Exception):
    """The change log does not go on from the last change applied: read everything again."""


def canonical_json(tp: TracePoint) -> str:
    """The JSON a tracepoint is kept as in Redis: sorted keys, no spaces, the same everywhere."""
    return json.dumps(tp.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class RedisLink:
    """What the tenant stores of one ``RedisStore`` share; see the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        namespace: str,
        password: str | None,
        seed: Sequence[TracePoint] | None,
        log_length: int,
        timeout: float,
        make_store: Callable[[RedisLink, str], RedisStore],
    ) -> None:
        self.url = url
        self._make_store = make_store
        self.name = f"Redis at {safe_url(url)}"
        self.namespace = namespace
        self._password = password
        self._seed = tuple(seed) if seed is not None else None
        self._log_length = log_length
        self.timeout = timeout
        prefix = "{" + namespace + "}:"
        self._prefix = prefix
        self._initialized_key = prefix + "initialized"
        self._seq_key = prefix + "seq"
        self._log_key = prefix + "log"
        self._revs_key = prefix + "revs"
        self._next_key = prefix + "next"
        self._channel = prefix + "changes"
        self.stores: dict[str, RedisStore] = {}
        self._stores_lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._scripts: dict[str, Any] = {}
        self._task: asyncio.Task[None] | None = None
        self.epoch: str | None = None
        self.seq = 0
        self._stream_id = "0-0"
        self.available = False
        self.initialized = True
        self._down_since: float | None = None
        self._down_reason = "it is not started: serve it from a HubServer, or call start()"
        self._waiters: list[tuple[str, int, asyncio.Future[None]]] = []
        self._epochs: set[str] = set()
        """The epochs this link has served: a waiter of an older one waits in vain."""
        self._quiet_behind = 0
        self.reloads = 0

    # -- what the stores ask -------------------------------------------------------

    def tenant_keys(self, tenant: str) -> list[str]:
        """The keys a write of ``tenant`` names, in the scripts' order."""
        return [
            self._initialized_key,
            self._seq_key,
            self._log_key,
            self._revs_key,
            self._next_key,
            self._prefix + "tp:" + tenant,
        ]

    @property
    def problem(self) -> str | None:
        """Why the store is not ready to serve, or None."""
        if not self.available:
            since = ""
            if self._down_since is not None:
                since = time.strftime(" since %H:%M:%S", time.localtime(self._down_since))
            return (
                f"{self.name} is unreachable{since}: {self._down_reason};"
                " serving the last good config"
            )
        if not self.initialized:
            return self._uninitialized()
        unseeded = [store.tenant_name or '""' for store in self.stores.values() if store.unseeded]
        if unseeded:
            named = ", ".join(unseeded[:10]) + (" …" if len(unseeded) > 10 else "")
            return (
                f"{counted(len(unseeded), 'tenant')} lost their config when Redis was emptied"
                f" and serve their last good one until written whole: {named}"
            )
        return None

    def _uninitialized(self) -> str:
        return (
            f"{self.name} holds no confighub config in namespace {self.namespace!r} (it was"
            f" emptied, or never seeded): serving the last good config; {_SEED_HINT}"
        )

    # -- lifecycle, on the loop ----------------------------------------------------

    async def attach(self) -> bool:
        """Connect and load on the running loop, then follow; False if attached already."""
        if self.loop is not None:
            return False
        self.loop = asyncio.get_running_loop()
        self._client = redis.asyncio.from_url(
            self.url,
            password=self._password,
            decode_responses=True,
            protocol=2,
            # One quick retry (a connection Redis dropped when it restarted), not
            # redis-py's default of many: a write to an unreachable Redis answers 503 now.
            retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), 1),
            socket_timeout=_BLOCK_MS / 1000 + self.timeout,
            socket_connect_timeout=self.timeout,
            health_check_interval=30,
        )
        self._scripts = {
            name: self._client.register_script(source)
            for name, source in (
                ("write", scripts.WRITE),
                ("set", scripts.SET),
                ("snapshot", scripts.SNAPSHOT),
                ("tenant", scripts.TENANT_SNAPSHOT),
            )
        }
        try:
            await asyncio.wait_for(self._sync(reload=True), self.timeout)
        except BaseException as err:
            # Closed whatever went wrong: a store left half started would hold the
            # connection, and send later writes to a loop that is gone.
            await self._drop()
            if isinstance(err, RedisError | OSError | TimeoutError | ValueError):
                # ValueError: a key of the namespace holds what confighub did not write.
                raise StoreUnavailable(self.name, _reason(err)) from None
            raise
        self._up()
        self._task = self.loop.create_task(self._follow(), name="confighub-redis-follower")
        return True

    async def detach(self) -> None:
        """Stop following and close the connection; the configs stay readable."""
        task, self._task = self._task, None
        if task is not None:
            # Python 3.11's asyncio.wait_for, which redis-py sends a command through, loses
            # a cancel that comes as the send completes: cancel until the follower ends.
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=_CANCEL_AGAIN)
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._drop()

    async def _drop(self) -> None:
        client, self._client = self._client, None
        self.loop = None
        self.available = False
        self._down_reason = "it was stopped"
        self._fail_waiters("it was stopped")
        if client is not None:
            await client.aclose()

    # -- following -----------------------------------------------------------------

    async def _follow(self) -> None:
        delay = _FIRST_RETRY
        sync, reload = False, False
        while True:
            try:
                if sync:
                    await self._sync(reload)
                    sync = reload = False
                    self._up()
                    delay = _FIRST_RETRY
                reply = await self._client.xread(
                    {self._log_key: self._stream_id}, count=_BATCH, block=_BLOCK_MS
                )
                if reply and self.initialized:
                    await self._apply(reply[0][1])
                else:
                    sync = True  # a quiet wait, or a change while uninitialized: look again
            except _Gap as gap:
                logger.warning("%s: %s; reading the whole config again", self.name, gap)
                sync = reload = True
            except (RedisError, OSError) as err:
                self._down(err)
                sync = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, _LAST_RETRY)
            except Exception as err:
                # A follower that died would leave this server stale in silence: say so,
                # count it as an outage, and read everything again.
                logger.exception("%s: following the change log failed", self.name)
                self._down(err)
                sync = reload = True
                await asyncio.sleep(_LAST_RETRY)

    async def _sync(self, reload: bool) -> None:
        """Look at the namespace; seed it, read it whole, or resume from the last change."""
        epoch, seq = await self._client.mget(self._initialized_key, self._seq_key)
        if epoch is None and self._seed is not None:
            # Not waiting for the follower to read the seed back: it is the caller, and
            # reads the namespace whole next, seed included.
            made = await self._set(DEFAULT_TENANT, self._seed, "", mode="seed", wait=False)
            if made is not None:
                logger.warning(
                    "%s: the namespace %r was not initialized: seeded it with %s",
                    self.name,
                    self.namespace,
                    counted(len(self._seed), "tracepoint"),
                )
            epoch, seq = await self._client.mget(self._initialized_key, self._seq_key)
        if epoch is None:
            if self.initialized:
                self.initialized = False
                logger.error("%s", self._uninitialized())
            return
        seq = int(seq or 0)
        if seq > self.seq and epoch == self.epoch and not reload:
            # Changes are on their way through the log; twice behind while the log is
            # quiet means they will not come (the log was deleted): read it all.
            self._quiet_behind += 1
            reload = self._quiet_behind > 1
        else:
            self._quiet_behind = 0
        if reload or epoch != self.epoch or seq < self.seq or not self.initialized:
            if self.epoch is not None and seq < self.seq and epoch == self.epoch:
                logger.warning(
                    "%s went back from change %d to %d (it lost writes): reading it again",
                    self.name,
                    self.seq,
                    seq,
                )
            await self._reload()

    async def _reload(self) -> None:
        """Read every tenant's config at one moment, and serve each whole."""
        self._quiet_behind = 0
        reply = await self._scripts["snapshot"](
            keys=[self._initialized_key, self._seq_key, self._log_key, self._revs_key],
            args=[self._prefix + "tp:"],
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
                    self.name,
                    shown(tenant),
                    shown(rev),
                )
        new_epoch = self.epoch is not None and epoch != self.epoch
        for tenant in {*found, *self.stores}:
            store = self.store(tenant)
            if tenant in found:
                store.load(*found[tenant])
            elif new_epoch and store.state.tracepoints:
                store.keep_unseeded()
            else:
                store.load(0, [])
        was_initialized = self.initialized
        self.epoch, self.seq, self._stream_id = epoch, seq, last_id
        self._epochs.add(epoch)
        self.initialized = True
        self.reloads += 1
        if new_epoch or not was_initialized:
            logger.warning("%s: the namespace %r is initialized", self.name, self.namespace)
        self._wake_waiters()

    async def _apply(self, entries: Sequence[tuple[str, dict[str, str]]]) -> None:
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
            store = self.store(tenant)
            if rev > store.rev:
                if rev != store.rev + 1 and not store.unseeded:
                    raise _Gap(
                        f"tenant {shown(store.tenant_name)} goes from revision {store.rev} to {rev}"
                    )
                if op == "set" or store.unseeded:
                    await self._reload_tenant(store)
                else:
                    store.change(op, tp_id, value, rev)
                touched[store.tenant_name] = store
            self.seq, self._stream_id = seq, entry_id
        for store in touched.values():
            store.publish()
        self._wake_waiters()

    async def _reload_tenant(self, store: RedisStore) -> None:
        rev, flat = await self._scripts["tenant"](
            keys=[self._revs_key, self._prefix + "tp:" + store.tenant_name],
            args=[store.tenant_name],
        )
        store.load(int(rev), flat, publish=False)

    def store(self, tenant: str) -> RedisStore:
        """The store of ``tenant``, made (empty) on first use; from any thread."""
        with self._stores_lock:
            store = self.stores.get(tenant)
            if store is None:
                store = self._make_store(self, tenant)
        return store

    # -- writes, on the loop ---------------------------------------------------------

    async def write(
        self, store: RedisStore, op: str, tp_id: str, value: str, expected_hash: str | None
    ) -> str:
        """Run one write of a tracepoint; return the value it replaced ("" for none)."""
        tenant = store.tenant_name
        self._check_available()
        if store.unseeded:
            raise StoreUnavailable(
                self.name,
                f"tenant {shown(tenant)} lost its config when Redis was emptied; {_SEED_HINT}",
            )
        args = [tenant, op, tp_id, value, "", self._log_length, self._channel]
        for _ in range(_ATTEMPTS):
            args[4] = await self._expected_rev(store, expected_hash)
            status, seq, _rev, old, epoch = await self._scripts["write"](
                keys=self.tenant_keys(tenant), args=args
            )
            if status in ("OK", "SAME", "CONFLICT"):
                await self.reached(epoch, int(seq))
                if status != "CONFLICT":
                    return str(old)
                continue
            if status == "EXISTS":
                raise TracePointExists(tp_id)
            if status == "UNKNOWN":
                raise UnknownTracePoint(tp_id)
            raise StoreUnavailable(
                self.name, f"namespace {self.namespace!r} is not initialized: {_SEED_HINT}"
            )
        raise self._contended()

    async def set_config(
        self, store: RedisStore, tracepoints: Sequence[TracePoint], expected_hash: str | None
    ) -> None:
        """Write ``store``'s whole config; this initializes an uninitialized namespace."""
        self._check_available()
        for _ in range(_ATTEMPTS):
            expected_rev = await self._expected_rev(store, expected_hash)
            if (
                await self._set(store.tenant_name, tracepoints, expected_rev, mode="set")
                is not None
            ):
                return
        raise self._contended()

    async def _set(
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
            self._log_length,
            self._channel,
            uuid.uuid4().hex,
        ]
        for tp in tracepoints:
            args += (tp.id, canonical_json(tp))
        status, seq, _rev, epoch = await self._scripts["set"](
            keys=self.tenant_keys(tenant), args=args
        )
        if mode == "seed" and status == "ALREADY":
            return None
        if wait:
            await self.reached(epoch, int(seq))
        return int(seq) if status == "OK" else None

    async def _expected_rev(self, store: RedisStore, expected_hash: str | None) -> str:
        """The ``"EPOCH REVISION"`` a write expecting ``expected_hash`` compares ("" for none)."""
        if expected_hash is None:
            return ""
        if store.state.hash != expected_hash:
            # Another replica may have served the caller a newer config: catch up first.
            epoch, seq = await self._client.mget(self._initialized_key, self._seq_key)
            await self.reached(epoch, int(seq or 0))
            if store.state.hash != expected_hash:
                raise StaleConfig(expected_hash, store.state.hash)
        return f"{self.epoch} {store.served_rev}"

    def _check_available(self) -> None:
        """Refuse a write at once while the follower knows Redis to be away."""
        if not self.available:
            raise StoreUnavailable(self.name, f"it is unreachable: {self._down_reason}")

    def _contended(self) -> StoreUnavailable:
        return StoreUnavailable(
            self.name, f"the config changed {_ATTEMPTS} times while a write waited; try it again"
        )

    async def reached(self, epoch: str | None, seq: int) -> None:
        """Return once change ``seq`` of ``epoch`` is applied; ``StoreUnavailable`` if not in time.

        Changes are numbered anew in each epoch (each time Redis is seeded anew).
        """
        if epoch is None or (epoch == self.epoch and self.seq >= seq):
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((epoch, seq, waiter))
        try:
            await asyncio.wait_for(waiter, self.timeout)
        except TimeoutError:
            raise StoreUnavailable(
                self.name,
                f"change {seq} was made, but this server has not read it back within"
                f" {self.timeout:g} s; read the config to see it",
            ) from None

    def _wake_waiters(self) -> None:
        """Resolve the waiters of changes applied; fail those of an epoch that is gone."""
        waiting = []
        for epoch, seq, waiter in self._waiters:
            if waiter.done():
                continue
            if epoch != self.epoch and epoch in self._epochs:
                waiter.set_exception(
                    StoreUnavailable(self.name, "Redis lost this change, and was seeded anew")
                )
            elif epoch == self.epoch and seq <= self.seq:
                waiter.set_result(None)
            else:
                waiting.append((epoch, seq, waiter))
        self._waiters = waiting

    def _fail_waiters(self, why: str) -> None:
        waiters, self._waiters = self._waiters, []
        for _, _, waiter in waiters:
            if not waiter.done():
                waiter.set_exception(StoreUnavailable(self.name, why))

    # -- availability ------------------------------------------------------------------

    def _up(self) -> None:
        if not self.available and self._down_since is not None:
            served = ", ".join(
                f"{shown(s.tenant_name)} {short_hash(s.state.hash)}"
                for s in list(self.stores.values())[:3]
            )
            logger.warning("%s is reachable again (serving %s)", self.name, served)
        self.available = True
        self._down_since = None

    def _down(self, err: BaseException) -> None:
        self._down_reason = _reason(err)
        newly = self.available or self._down_since is None
        self.available = False
        if newly:
            self._down_since = time.time()
            logger.error("%s", self.problem)


def _reason(err: BaseException) -> str:
    if isinstance(err, TimeoutError):
        return "no answer in time"
    return cut(str(err) or type(err).__name__, 200)


def parse_value(value: str, tp_id: str, where: str) -> tuple[int, TracePoint] | None:
    """The position and tracepoint of a stored ``"POSITION JSON"``; None (logged) if it is none."""
    try:
        if len(value) > _MAX_VALUE:
            raise ValueError(f"it is {len(value)} characters, over {_MAX_VALUE}")
        position, _, text = value.partition(" ")
        tp = TracePoint.from_json(json.loads(text))
        if tp.id != tp_id:
            raise ValueError(f"its body has the id {shown(tp.id)}")
        return int(position), tp
    except Exception as err:
        logger.warning(
            "%s: tracepoint %s left out, it does not read as one: %s",
            where,
            shown(tp_id),
            cut(str(err)),
        )
        return None
