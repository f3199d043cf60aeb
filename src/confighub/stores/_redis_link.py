"""``RedisLink``: what the tenant stores of one ``RedisStore`` share, on one event loop.

Every tenant store of a ``RedisStore`` shares one link: the connection to Redis and
its scripts, the namespace's keys, the stores by tenant, whether Redis answers, and
the two halves that do the work, on the loop the link is attached to (a
``HubServer``'s, or a thread of its own): the ``Follower`` (``_redis_follow``), which
keeps each tenant's config in memory by following Redis's change log, and the
``Writer`` (``_redis_writes``), which runs each write as one script.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import BusyLoadingError, RedisError

from confighub._internal.text import counted, short_hash, shown
from confighub._internal.urls import safe_url
from confighub.exceptions import StoreUnavailable
from confighub.model import TracePoint
from confighub.stores import _redis_scripts as scripts
from confighub.stores._redis_follow import BLOCK_MS, Follower
from confighub.stores._redis_values import SEED_HINT, reason
from confighub.stores._redis_writes import Writer

if TYPE_CHECKING:
    from confighub.stores._redis import RedisStore

__all__ = ["RedisKeys", "RedisLink"]

logger = logging.getLogger("confighub")

_CANCEL_AGAIN: Final = 0.01
_LOADING_AGAIN: Final = 0.05


class RedisKeys(NamedTuple):
    """The keys of a namespace, each with its hash tag (see ``_redis_scripts``)."""

    prefix: str
    initialized: str
    seq: str
    log: str
    revs: str
    next: str
    channel: str

    @classmethod
    def of_namespace(cls, namespace: str) -> RedisKeys:
        """The keys of ``namespace``."""
        prefix = "{" + namespace + "}:"
        names = ("initialized", "seq", "log", "revs", "next", "changes")
        return cls(prefix, *(prefix + name for name in names))

    def tracepoints(self, tenant: str) -> str:
        """The hash of ``tenant``'s tracepoints (with ``""``, the prefix of every tenant's)."""
        return self.prefix + "tp:" + tenant

    def of(self, tenant: str) -> list[str]:
        """The keys a write of ``tenant`` names, in the scripts' order."""
        return [
            self.initialized,
            self.seq,
            self.log,
            self.revs,
            self.next,
            self.tracepoints(tenant),
        ]


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
        self.seed = tuple(seed) if seed is not None else None
        self.log_length = log_length
        self.timeout = timeout
        self.keys = RedisKeys.of_namespace(namespace)
        self.stores: dict[str, RedisStore] = {}
        self._stores_lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.client: Any = None
        self.scripts: dict[str, Any] = {}
        self._task: asyncio.Task[None] | None = None
        self.available = False
        self._down_since: float | None = None
        self.down_reason = "it is not started: serve it from a HubServer, or call start()"
        self.follower = Follower(self)
        self.writer = Writer(self)

    @property
    def initialized(self) -> bool:
        """False while the namespace holds no config (never seeded, or emptied)."""
        return self.follower.initialized

    @property
    def problem(self) -> str | None:
        """Why the store is not ready to serve, or None."""
        if not self.available:
            since = ""
            if self._down_since is not None:
                since = time.strftime(" since %H:%M:%S", time.localtime(self._down_since))
            return (
                f"{self.name} is unreachable{since}: {self.down_reason};"
                " serving the last good config"
            )
        if not self.initialized:
            return self.uninitialized()
        with self._stores_lock:  # the loop may be adding a tenant
            stores = list(self.stores.values())
        unseeded = [store.tenant_name or '""' for store in stores if store.unseeded]
        if unseeded:
            named = ", ".join(unseeded[:10]) + (" …" if len(unseeded) > 10 else "")
            return (
                f"{counted(len(unseeded), 'tenant')} lost their config when Redis was emptied"
                f" and serve their last good one until written whole: {named}"
            )
        return None

    def uninitialized(self) -> str:
        """The problem of a namespace that holds no config."""
        return (
            f"{self.name} holds no confighub config in namespace {self.namespace!r}: it is not"
            f" initialized (emptied, or never seeded); serving the last good config; {SEED_HINT}"
        )

    def store(self, tenant: str) -> RedisStore:
        """The store of ``tenant``, made (empty) on first use; from any thread."""
        with self._stores_lock:
            store = self.stores.get(tenant)
            if store is None:
                store = self._make_store(self, tenant)
        return store

    # -- lifecycle, on the loop ----------------------------------------------------

    async def attach(self) -> bool:
        """Connect and load on the running loop, then follow; False if attached already."""
        if self.loop is not None:
            return False
        self.loop = asyncio.get_running_loop()
        self.client = redis.asyncio.from_url(
            self.url,
            password=self._password,
            decode_responses=True,
            protocol=2,
            # No retry: a write whose answer was lost may have been made, and run again it
            # would be refused (TracePointExists) or made twice. A connection Redis dropped
            # fails its one call; the follower reconnects, and a write answers 503.
            retry=Retry(NoBackoff(), 0),
            socket_timeout=BLOCK_MS / 1000 + self.timeout,
            socket_connect_timeout=self.timeout,
            health_check_interval=30,
        )
        self.scripts = {
            name: self.client.register_script(source)
            for name, source in (
                ("write", scripts.WRITE),
                ("set", scripts.SET),
                ("snapshot", scripts.SNAPSHOT),
                ("tenant", scripts.TENANT_SNAPSHOT),
            )
        }
        try:
            await asyncio.wait_for(self._first_sync(), self.timeout)
        except BaseException as err:
            # Closed whatever went wrong: a store left half started would hold the
            # connection, and send later writes to a loop that is gone.
            await self._drop()
            if isinstance(err, RedisError | OSError | TimeoutError | ValueError):
                # ValueError: a key of the namespace holds what confighub did not write.
                raise StoreUnavailable(self.name, reason(err)) from None
            raise
        self.up()
        self._task = self.loop.create_task(self.follower.run(), name="confighub-redis-follower")
        return True

    async def _first_sync(self) -> None:
        """Read the namespace whole, waiting while Redis loads its data (it says LOADING)."""
        while True:
            try:
                await self.follower.sync(reload=True)
                return
            except BusyLoadingError:
                # A Redis just restarted reads its files before it answers: not a failure
                # to start on, as a replica and Redis restarted together would otherwise be.
                await asyncio.sleep(_LOADING_AGAIN)

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
        client, self.client = self.client, None
        self.loop = None
        self.available = False
        self.down_reason = "it was stopped"
        self.follower.fail_waiters("it was stopped")
        if client is not None:
            await client.aclose()

    # -- availability ------------------------------------------------------------------

    def up(self) -> None:
        """Redis answered: log it once after an outage."""
        if not self.available and self._down_since is not None:
            with self._stores_lock:
                stores = list(self.stores.values())[:3]
            served = ", ".join(f"{shown(s.tenant_name)} {short_hash(s.state.hash)}" for s in stores)
            logger.warning("%s is reachable again (serving %s)", self.name, served)
        self.available = True
        self._down_since = None

    def down(self, err: BaseException) -> None:
        """Redis failed to answer: log it once, and refuse writes until it answers again."""
        self.down_reason = reason(err)
        newly = self.available or self._down_since is None
        self.available = False
        if newly:
            self._down_since = time.time()
            logger.error("%s", self.problem)
