"""``RedisStore``: one config shared by several servers through Redis, and followed by each.

Several ``confighub serve`` replicas behind a load balancer must hand out the same
config and wake their held polls when it changes, wherever the write came in. They
share it through Redis (redis-py's ``redis.asyncio``, on the server's event loop):

- **Each write is one script** (``_redis_scripts``) that checks, applies, bumps the
  tenant's revision, appends to the change log and publishes a wake-up; a
  compare-and-set is on the revision, so two replicas cannot both win one.
- **Each replica keeps the config in memory** and follows the log in order
  (``_redis_link``). Polls never wait on Redis: they are answered from memory, as
  with any other store, and a write returns once its replica serves it.
- **Faults keep the last good config.** While Redis is unreachable a replica serves
  what it has, says why (``problem``, so ``/readyz`` answers 503) and refuses writes
  with ``StoreUnavailable``; once Redis is back it resumes from its last change, or
  reads everything again when the log no longer reaches back that far.
- **An emptied Redis is not an empty config.** The first whole-config write marks
  the namespace initialized; a Redis without the mark (restarted empty, flushed) is
  not served as empty: replicas keep their last good config, report the store
  uninitialized, and refuse single writes, which would otherwise leave a subset,
  until a whole config is written (``set``: ``confighub tp apply``) or a replica
  with a ``seed`` writes it, in one step that only one replica can win.

Because a config's hash depends on its content only, every replica computes the
same hash for the same config, so an agent moved to another replica gets NO_CHANGE.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from typing import Final, Self

from confighub._internal.lifecycle import Closing
from confighub._wire.tenants import DEFAULT_TENANT, check_tenant
from confighub.exceptions import UnknownTracePoint
from confighub.model import TracePoint, config_hash
from confighub.stores._redis_calls import OwnLoop, call
from confighub.stores._redis_link import RedisLink
from confighub.stores._redis_values import canonical_json, parse_value
from confighub.stores._store import StoreBase, StoreListeners, StoreState, checked, unique

__all__ = ["DEFAULT_NAMESPACE", "RedisStore"]

DEFAULT_NAMESPACE: Final = "confighub"
_NAMESPACE: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class RedisStore(StoreBase, Closing):
    """A ``WritableStore`` and ``TenantStores`` shared by every server on the Redis at ``url``.

    ``url`` is ``redis://HOST:PORT/DB`` or ``rediss://…`` (TLS), with a password in
    it or given as ``password``; ``namespace`` prefixes every key, so several
    configs can share one Redis. ``seed`` (tracepoints) is written whenever the
    namespace is found uninitialized, at start or later. ``log_length`` bounds the
    change log (a replica away for more changes than that reads the whole config
    again); ``timeout`` bounds a connection attempt and a write's wait, in seconds.

    The store runs on an event loop: a ``HubServer`` serving it attaches it to its
    own at ``start()`` (connecting, and loading the config, before it serves; an
    unreachable Redis is then a ``ServeFailed``) and detaches it at ``stop()``.
    Outside a server, ``start()`` runs it on a thread of its own until ``close()``.
    Writes block until their server serves them; call them from a worker thread.
    See the module docstring for what happens on faults.
    """

    _link: RedisLink
    tenant_name: str

    def __init__(
        self,
        url: str,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        password: str | None = None,
        seed: Iterable[TracePoint] | None = None,
        log_length: int = 10_000,
        timeout: float = 5.0,
    ) -> None:
        if not isinstance(url, str) or not url.lower().startswith(("redis://", "rediss://")):
            raise ValueError("a RedisStore URL starts with redis:// or rediss://")
        if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
            raise ValueError(
                f"namespace must be 1-64 letters, digits, '_', '.' or '-', got {namespace!r:.80}"
            )
        if log_length < 10:
            raise ValueError(f"log_length must be >= 10 changes, got {log_length!r}")
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout!r}")
        seeded = unique(tuple(seed)) if seed is not None else None
        link = RedisLink(
            url,
            namespace=namespace,
            password=password,
            seed=seeded,
            log_length=log_length,
            timeout=timeout,
            make_store=RedisStore.sibling,
        )
        self._own: OwnLoop | None = None
        self._lifecycle = threading.Lock()
        self._init(link, DEFAULT_TENANT)

    @classmethod
    def sibling(cls, link: RedisLink, tenant: str) -> RedisStore:
        """The store of ``tenant`` on ``link`` (made by the link, on its loop)."""
        store = cls.__new__(cls)
        store._own = None
        store._lifecycle = threading.Lock()
        store._init(link, tenant)
        return store

    def _init(self, link: RedisLink, tenant: str) -> None:
        self._link = link
        self.tenant_name = tenant
        self.rev = 0
        self.served_rev = 0
        self.unseeded = False
        self._loaded = False
        # By id, in the order of their positions (a new tracepoint takes the next one).
        self._items: dict[str, tuple[int, str, TracePoint]] = {}
        self._unordered = False
        self._state = StoreState(0, (), config_hash(()))
        self._listeners = StoreListeners(lambda: self._state)
        link.stores[tenant] = self

    def __repr__(self) -> str:
        state = self._state
        tenant = f", tenant={self.tenant_name!r}" if self.tenant_name != DEFAULT_TENANT else ""
        return (
            f"RedisStore({self._link.name!r}, namespace={self._link.namespace!r}{tenant},"
            f" version={state.version}, hash={state.hash}, {len(state.tracepoints)} tracepoints)"
        )

    # -- status ----------------------------------------------------------------------

    @property
    def namespace(self) -> str:
        """The prefix of every key of this config in Redis."""
        return self._link.namespace

    @property
    def available(self) -> bool:
        """Whether Redis answers (the config served is the last good one otherwise)."""
        return self._link.available

    @property
    def initialized(self) -> bool:
        """False while Redis holds no config for this store and the last good one is served."""
        return self._link.initialized and not self.unseeded

    @property
    def holds_config(self) -> bool:
        """False while there is no config to serve at all: Redis holds none, nor did it here.

        A server then refuses its agents' polls (UNAVAILABLE) rather than answer them
        with an empty config, which would make them drop every tracepoint they have.
        """
        return self._loaded or self._link.initialized

    @property
    def problem(self) -> str | None:
        """Why this store is not ready (unreachable, uninitialized), or None when it is."""
        return self._link.problem

    # -- lifecycle -------------------------------------------------------------------

    async def attach(self) -> bool:
        """Connect, load and follow on the running loop; False if running already.

        Raises ``StoreUnavailable`` if Redis does not answer within ``timeout``.
        """
        return await self._link.attach()

    async def detach(self) -> None:
        """Stop following Redis; the config stays readable, writes are refused."""
        await self._link.detach()

    def start(self) -> Self:
        """Run the store on a thread of its own (outside a ``HubServer``); idempotent."""
        with self._lifecycle:
            if self._own is not None or self._link.loop is not None:
                return self
            own = OwnLoop()
            try:
                own.run(self._link.attach())
            except BaseException:
                own.end()
                raise
            self._own = own
        return self

    def close(self) -> None:
        """Stop the thread ``start()`` made, if any; idempotent. A server detaches its own."""
        with self._lifecycle:
            own, self._own = self._own, None
        if own is not None:
            own.run(self._link.detach())
            own.end()

    def tenant(self, name: str) -> RedisStore:
        """The store of tenant ``name``, the same object on every call.

        It shares the connection, the loop and the follower; ``DEFAULT_TENANT`` is
        the store itself.
        """
        if name != DEFAULT_TENANT:
            check_tenant(name)
        return self._link.store(name)

    # -- writes ------------------------------------------------------------------------

    def set(
        self, tracepoints: Iterable[TracePoint], *, expected_hash: str | None = None
    ) -> StoreState:
        """Make ``tracepoints`` the whole config (see ``WritableStore``); also seeds Redis."""
        new = unique(tuple(tracepoints))
        call(self._link, self._link.writer.set_config(self, new, expected_hash))
        return self._state

    def create(self, tp: TracePoint, *, expected_hash: str | None = None) -> StoreState:
        """Add ``tp``; raise ``TracePointExists`` if its id is in use (see ``WritableStore``)."""
        self._write("create", checked(tp), expected_hash)
        return self._state

    def replace(self, tp: TracePoint, *, expected_hash: str | None = None) -> StoreState:
        """Put ``tp`` in place of the tracepoint with its id, or add it (see ``WritableStore``)."""
        self._write("replace", checked(tp), expected_hash)
        return self._state

    def delete(
        self, tp_id: str, *, expected_hash: str | None = None
    ) -> tuple[StoreState, TracePoint]:
        """Remove the tracepoint ``tp_id`` and return it (see ``WritableStore``)."""
        held = next((tp for tp in self._state.tracepoints if tp.id == tp_id), None)
        old = call(self._link, self._link.writer.write(self, "delete", tp_id, "", expected_hash))
        parsed = parse_value(old, tp_id, self._link.name)
        gone = parsed[1] if parsed is not None else held
        if gone is None:
            # What Redis held under the id never read as a tracepoint, so none was served.
            raise UnknownTracePoint(tp_id)
        return self._state, gone

    def _write(self, op: str, tp: TracePoint, expected_hash: str | None) -> None:
        call(
            self._link, self._link.writer.write(self, op, tp.id, canonical_json(tp), expected_hash)
        )

    # -- what the link applies, on its loop ----------------------------------------------

    def load(self, rev: int, flat: Sequence[str], *, publish: bool = True) -> None:
        """Take the whole config of revision ``rev`` from ``flat``: id, value, id, value, …."""
        before = self._items
        items: dict[str, tuple[int, str, TracePoint]] = {}
        for at in range(0, len(flat) - 1, 2):
            tp_id, value = flat[at], flat[at + 1]
            kept = before.get(tp_id)
            position, _, body = value.partition(" ")
            # The body, not the whole value: a set numbers the positions anew, and a
            # tracepoint that only moved is the object served before (see ``reusing``).
            if kept is not None and kept[1].partition(" ")[2] == body and position.isdecimal():
                items[tp_id] = (int(position), value, kept[2])
                continue
            parsed = parse_value(value, tp_id, self._link.name)
            if parsed is not None:
                items[tp_id] = (parsed[0], value, parsed[1])
        self._items = dict(sorted(items.items(), key=lambda item: item[1][0]))
        self._unordered = False
        self.rev = rev
        self.unseeded = False
        self._loaded = True
        if publish:
            self.publish()

    def keep_unseeded(self) -> None:
        """Redis was emptied and this tenant not written since: keep serving what it has."""
        self.unseeded = True
        self.rev = 0

    def change(self, op: str, tp_id: str, value: str, rev: int) -> None:
        """Apply one logged change of revision ``rev`` (``publish`` serves it)."""
        if op == "delete":
            self._items.pop(tp_id, None)
        else:
            parsed = parse_value(value, tp_id, self._link.name)
            items = self._items
            if parsed is None:
                items.pop(tp_id, None)
            else:
                if tp_id not in items and items:
                    # A new one goes last: unless Redis holds positions confighub did not write.
                    last = next(reversed(items.values()))[0]
                    self._unordered = self._unordered or parsed[0] < last
                items[tp_id] = (parsed[0], value, parsed[1])
        self.rev = rev
        self._loaded = True

    def publish(self) -> None:
        """Serve the config as applied: a new version if its hash changed."""
        self.served_rev = self.rev
        if self.unseeded:
            return
        if self._unordered:
            self._items = dict(sorted(self._items.items(), key=lambda item: item[1][0]))
            self._unordered = False
        tracepoints = tuple(item[2] for item in self._items.values())
        new_hash = config_hash(tracepoints)
        old = self._state
        if new_hash != old.hash:
            self._state = StoreState(old.version + 1, tracepoints, new_hash)
            self._listeners.publish()
