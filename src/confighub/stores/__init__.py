"""Stores: where a config lives, and how its changes reach those who serve or apply it.

A store holds the current config as a ``StoreState`` (a version, the
tracepoints and their hash) and tells subscribers when it changes. ``HubServer``
serves from any object with the ``Store`` protocol; ``FileSource`` applies a
``FileStore`` to a hub. ``MemoryStore`` is set from code (and is the store to
use in tests); ``FileStore`` follows a YAML or JSON file and keeps the last good
config through a bad edit.

Writable stores (``WritableStore``: ``create``, ``replace``, ``delete``, each atomic
with compare-and-set on the hash) are what the management API writes through;
``FileStore`` refuses writes (``ReadOnlyStore``), so a file stays the one source
of truth. Stores of one config per tenant are ``TenantStores``.

``SqliteStore`` is the writable store that outlives a restart: one SQLite file per
server, each write a durable transaction, each tenant a config in the same file.
``RedisStore`` is the one several servers share: each write one atomic step in
Redis, each server following Redis's change log and serving the config from memory,
its last good one while Redis is away (a ``LoopStore``: it runs on the serving
server's event loop). ``open_store`` opens the store a URL names (``sqlite:PATH``,
``redis://…``), as the command line's ``--store`` does.
"""

from confighub.stores._file import FileStore
from confighub.stores._memory import MemoryStore
from confighub.stores._redis import RedisStore
from confighub.stores._sqlite import SqliteStore
from confighub.stores._store import (
    LoopStore,
    Store,
    StoreBase,
    StoreCallback,
    StoreListeners,
    StoreState,
    TenantStores,
    WritableStore,
    check_expected,
)
from confighub.stores._urls import open_store

__all__ = [
    "FileStore",
    "LoopStore",
    "MemoryStore",
    "RedisStore",
    "SqliteStore",
    "Store",
    "StoreBase",
    "StoreCallback",
    "StoreListeners",
    "StoreState",
    "TenantStores",
    "WritableStore",
    "check_expected",
    "open_store",
]
