"""The tenants a ``HubServer`` serves: one config, one set of views, one wake-up each.

With tenancy off there is one tenant, ``DEFAULT_TENANT``: the store itself. With
it on, each tenant id names its own config: ``store.tenant(id)`` of a store that
holds one per tenant (``TenantStores``), or the one store for every tenant of a
store that does not (a file: every tenant is served the same file).

Everything here runs on the server's event loop, so it needs no lock; a store
change, made on any thread, is brought to the loop with ``call_soon_threadsafe``.
Clients choose their tenant ids, so the number of tenants is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Final

from confighub._wire.tenants import DEFAULT_TENANT, check_tenant
from confighub.server._views import ViewCache, check_max_views
from confighub.stores import Store, StoreState, TenantStores

__all__ = [
    "DEFAULT_MAX_TENANTS",
    "Tenant",
    "TenantLimit",
    "TenantRefused",
    "Tenants",
    "requested_tenant",
]

DEFAULT_MAX_TENANTS: Final = 1000
"""Tenants served at most: each holds its views, and clients choose the ids they send."""


class TenantLimit(Exception):
    """A request named a new tenant while the server serves ``max_tenants`` already."""


class Tenant:
    """One tenant's config as served: its store, its views and the future held polls await."""

    __slots__ = ("_on_change", "_unsubscribe", "changed", "gate", "name", "store", "views")

    def __init__(
        self,
        name: str,
        store: Store,
        loop: asyncio.AbstractEventLoop,
        *,
        max_views: int,
        on_change: Callable[[Tenant], object] | None = None,
    ) -> None:
        self.name = name
        self.store = store
        # A store that can hold no config at all yet says so (a shared store never seeded):
        # its agents are refused rather than served an empty config. Looked up once here,
        # so that a poll of any other store pays nothing for it.
        self.gate: Store | None = store if hasattr(type(store), "holds_config") else None
        self._on_change = on_change
        self.views = ViewCache(store.state, max_views=max_views)
        self.changed: asyncio.Future[None] = loop.create_future()
        self._unsubscribe = store.subscribe(_wake_on(loop, self.refresh))

    def refresh(self) -> bool:
        """Catch up with the store; on a change wake every held poll and return True."""
        state = self.store.state
        if state.version == self.views.version:
            return False
        self.views.update(state)
        self.wake()
        if self._on_change is not None:
            self._on_change(self)
        return True

    def wake(self) -> None:
        """Resolve the future the held polls wait on, and put a fresh one in its place."""
        changed = self.changed
        self.changed = changed.get_loop().create_future()
        changed.set_result(None)

    def close(self) -> None:
        """Stop following the store and wake every held poll."""
        self._unsubscribe()
        self.wake()


class Tenants:
    """The tenants served, made on first use; see the module docstring."""

    def __init__(
        self,
        store: Store,
        *,
        multitenant: bool,
        max_views: int,
        max_tenants: int = DEFAULT_MAX_TENANTS,
    ) -> None:
        check_max_views(max_views)
        if max_tenants < 1:
            raise ValueError(f"max_tenants must be >= 1, got {max_tenants!r}")
        self.multitenant = multitenant
        self._store = store
        self._max_views = max_views
        self._max_tenants = max_tenants
        self._loop: asyncio.AbstractEventLoop | None = None
        self._by_name: dict[str, Tenant] = {}
        self._on_change: Callable[[Tenant], object] | None = None

    def __len__(self) -> int:
        return len(self._by_name)

    def __iter__(self) -> Iterator[Tenant]:
        return iter(tuple(self._by_name.values()))

    def open(
        self, loop: asyncio.AbstractEventLoop, on_change: Callable[[Tenant], object] | None = None
    ) -> None:
        """Bind to the server's event loop and make the default tenant; call on the loop.

        ``on_change(tenant)`` is called on the loop after each change of a tenant's config.
        """
        self._loop = loop
        self._on_change = on_change
        self.get(DEFAULT_TENANT)

    def get(self, name: str) -> Tenant:
        """The tenant ``name`` (already checked), made on first use; raise ``TenantLimit``."""
        tenant = self._by_name.get(name)
        if tenant is not None:
            return tenant
        loop = self._loop
        if loop is None:
            raise RuntimeError("Tenants.open() was not called")
        if len(self._by_name) >= self._max_tenants:
            raise TenantLimit(f"this server serves at most {self._max_tenants} tenants")
        store = self._store
        if isinstance(store, TenantStores):
            store = store.tenant(name)
        tenant = Tenant(name, store, loop, max_views=self._max_views, on_change=self._on_change)
        self._by_name[name] = tenant
        return tenant

    def close(self) -> None:
        """Stop following every tenant's store and wake every held poll."""
        for tenant in self._by_name.values():
            tenant.close()


def _wake_on(
    loop: asyncio.AbstractEventLoop, refresh: Callable[[], object]
) -> Callable[[StoreState], None]:
    def wake(_: StoreState) -> None:
        # The loop may have closed after the store copied its callbacks: then
        # nothing is held any more and there is nobody to wake.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(refresh)

    return wake


class TenantRefused(Exception):
    """A request named no tenant where one is needed (``missing``), or an invalid one."""

    def __init__(self, message: str, *, missing: bool) -> None:
        super().__init__(message)
        self.missing = missing


def requested_tenant(values: Sequence[str], *, multitenant: bool, named: str) -> str:
    """The tenant a request names in its ``values`` of the header or metadata key ``named``.

    With tenancy off every request is the default tenant, whatever it sends (as
    Deep does). With it on, a request must name exactly one valid tenant.
    """
    if not multitenant:
        return DEFAULT_TENANT
    if not values:
        raise TenantRefused(
            f"missing '{named}': this server is multi-tenant, name the tenant", missing=True
        )
    if len(values) > 1:
        raise TenantRefused(f"more than one '{named}': name one tenant", missing=False)
    try:
        return check_tenant(values[0])
    except ValueError as err:
        raise TenantRefused(str(err), missing=False) from None
