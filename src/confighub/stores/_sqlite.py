"""``SqliteStore``: a writable store in one SQLite file, each write on disk when it returns.

The management API needs a store that outlives the server without a database server
beside it; the standard library's ``sqlite3`` gives transactions and crash safety in one
file. The choices, and why:

- **One server per file.** The file is held with ``locking_mode=EXCLUSIVE`` from the open
  on, so the config kept in memory is the file's own (nobody else can write it) and
  reads never touch the disk; a second server on the file is refused at once (no busy
  wait), not left to diverge.
- **Durable, atomic writes.** ``journal_mode=WAL`` appends each commit to the log and
  ``synchronous=FULL`` syncs it before ``COMMIT`` returns: a write acknowledged is one a
  power cut or ``kill -9`` keeps. Each write is one ``BEGIN IMMEDIATE`` … ``COMMIT`` of
  its rows and its tenant's row; the state in memory changes only after the commit, so
  a failed one leaves the store serving what the file still holds.
- **Bodies are deep-proto bytes.** A row holds a tracepoint as its deterministic
  ``TracePointConfig``: the wire form already, lossless both ways, and read back
  through ``TracePoint.from_proto``, which validates like any poll. A column per field
  would copy the model's rules into SQL and make each model change a migration.
- **Order by position.** ``(tenant, id)`` is the key, so ids are unique by the schema;
  ``position`` keeps the config's order (a replace keeps it, a create takes the next;
  gaps left by deletes are harmless). A tenant's row keeps its revision (the
  ``StoreState.version``) and hash, so a reopened store resumes its numbering.
- **A file is recognised before it is written.** A ``meta`` table names the format and
  the schema version; a file without it, or of another version, is refused, never
  migrated or written into in silence. No ``STRICT`` tables: older SQLite lacks them.

A row that no longer validates (a model rule changed) is logged and left out of the
config, but kept in the file, where a confighub that reads it may still find it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from deepproto.proto.tracepoint.v1 import tracepoint_pb2

from confighub._internal.lifecycle import Closing
from confighub._internal.text import cut, shown
from confighub._wire.tenants import DEFAULT_TENANT, check_tenant
from confighub.exceptions import TracePointExists, UnknownTracePoint
from confighub.model import TracePoint, config_hash
from confighub.stores._sqlite_file import SqliteFile
from confighub.stores._store import (
    StoreBase,
    StoreListeners,
    StoreState,
    check_expected,
    checked,
    reusing,
    unique,
)

__all__ = ["SqliteStore"]

logger = logging.getLogger("confighub")

_Config = tuple[TracePoint, ...]
_Rows = Callable[[sqlite3.Connection], None]
"""The SQL of one write, run inside its transaction."""
_Change = Callable[[_Config], tuple[_Config, _Rows]]
"""A write: from the current tracepoints to the new ones, and the SQL that stores them."""


class SqliteStore(StoreBase, Closing):
    """A ``WritableStore`` and ``TenantStores`` kept in the SQLite file at ``path``.

    The file is made if it does not exist (its folder must); opening it raises
    ``StoreUnavailable`` if it is no confighub store, of another schema version, or
    in use by another server. ``synchronous`` is SQLite's setting: ``FULL`` (the
    default) syncs every commit, ``NORMAL`` may lose the last writes on a power cut
    (not on a crash of the process). Writes behave as ``MemoryStore``'s, ``set``
    included, and one that the disk refuses raises ``StoreUnavailable`` and changes
    nothing. The store itself is the config of tenancy off; ``tenant(name)`` is
    another ``SqliteStore`` over the same file, connection and lock, read on its
    first use. ``close()`` closes the file for every tenant; the configs stay
    readable, and writes then raise ``StoreUnavailable``.
    """

    _file: SqliteFile
    _tenant: str

    def __init__(self, path: str | os.PathLike[str], *, synchronous: str = "FULL") -> None:
        file = SqliteFile(Path(path), synchronous)
        try:
            self._attach(file, DEFAULT_TENANT)
        except BaseException:
            file.close()  # a store that failed to open must not keep the file locked
            raise

    def _attach(self, file: SqliteFile, tenant: str) -> None:
        self._file = file
        self._tenant = tenant
        self._state = _loaded(file, tenant)
        self._listeners = StoreListeners(lambda: self._state)
        file.stores[tenant] = self

    @property
    def path(self) -> Path:
        """The database file."""
        return self._file.path

    def __repr__(self) -> str:
        state = self._state
        tenant = f", tenant={self._tenant!r}" if self._tenant != DEFAULT_TENANT else ""
        size = len(state.tracepoints)
        return (
            f"SqliteStore({str(self._file.path)!r}{tenant}, version={state.version},"
            f" hash={state.hash}, {size} tracepoints)"
        )

    def tenant(self, name: str) -> SqliteStore:
        """The store of tenant ``name``: read from the file on first use, the same object after.

        ``DEFAULT_TENANT`` is the store opened; the tenants of a tenant's store are its
        siblings, all over one file.
        """
        if name != DEFAULT_TENANT:
            check_tenant(name)
        file = self._file
        with file.lock:
            store = file.stores.get(name)
            if store is None:
                # Not through __init__, which opens a file: this one is open already.
                store = SqliteStore.__new__(SqliteStore)
                store._attach(file, name)
        return store

    def close(self) -> None:
        """Close the file, for every tenant's store; idempotent."""
        self._file.close()

    def set(
        self, tracepoints: Iterable[TracePoint], *, expected_hash: str | None = None
    ) -> StoreState:
        """Replace the whole config in one transaction; return the resulting state.

        As ``MemoryStore.set``: a repeated id raises ``InvalidTracePoint`` and changes
        nothing, unchanged tracepoints keep their objects, and ``expected_hash`` is
        compared as for every write.
        """
        new = unique(tuple(tracepoints))
        bodies = [(tp.id, _body(tp)) for tp in new]

        def rows(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM tracepoints WHERE tenant = ?", (self._tenant,))
            db.executemany(
                "INSERT INTO tracepoints (tenant, id, position, body) VALUES (?, ?, ?, ?)",
                [(self._tenant, tp_id, at, body) for at, (tp_id, body) in enumerate(bodies)],
            )

        return self._write(lambda old: (reusing(old, new), rows), expected_hash)

    def create(self, tp: TracePoint, *, expected_hash: str | None = None) -> StoreState:
        """Add ``tp``; raise ``TracePointExists`` if its id is in use (see ``WritableStore``)."""
        rows = self._appended(tp)

        def created(old: _Config) -> tuple[_Config, _Rows]:
            if any(item.id == tp.id for item in old):
                raise TracePointExists(tp.id)
            return (*old, tp), rows

        return self._write(created, expected_hash)

    def replace(self, tp: TracePoint, *, expected_hash: str | None = None) -> StoreState:
        """Put ``tp`` in place of the tracepoint with its id, or add it (see ``WritableStore``)."""
        appended = self._appended(tp)
        body = _body(tp)

        def updated(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE tracepoints SET body = ? WHERE tenant = ? AND id = ?",
                (body, self._tenant, tp.id),
            )

        def replaced(old: _Config) -> tuple[_Config, _Rows]:
            if any(item.id == tp.id for item in old):
                return tuple(tp if item.id == tp.id else item for item in old), updated
            return (*old, tp), appended

        return self._write(replaced, expected_hash)

    def delete(
        self, tp_id: str, *, expected_hash: str | None = None
    ) -> tuple[StoreState, TracePoint]:
        """Remove the tracepoint ``tp_id`` and return it (see ``WritableStore``)."""
        gone: list[TracePoint] = []

        def rows(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM tracepoints WHERE tenant = ? AND id = ?", (self._tenant, tp_id))

        def deleted(old: _Config) -> tuple[_Config, _Rows]:
            gone.extend(item for item in old if item.id == tp_id)
            if not gone:
                raise UnknownTracePoint(tp_id)
            return tuple(item for item in old if item.id != tp_id), rows

        state = self._write(deleted, expected_hash)
        return state, gone[0]

    def _appended(self, tp: TracePoint) -> _Rows:
        body = _body(checked(tp))

        def rows(db: sqlite3.Connection) -> None:
            # An upsert, not a plain insert: the id may have a row left out of the config
            # because it no longer validates, which the new tracepoint takes over, at the
            # end of the config as in memory.
            db.execute(
                "INSERT INTO tracepoints (tenant, id, position, body) VALUES (?, ?,"
                " (SELECT COALESCE(MAX(position), -1) + 1 FROM tracepoints WHERE tenant = ?), ?)"
                " ON CONFLICT (tenant, id) DO UPDATE"
                " SET position = excluded.position, body = excluded.body",
                (self._tenant, tp.id, self._tenant, body),
            )

        return rows

    def _write(self, change: _Change, expected_hash: str | None = None) -> StoreState:
        file = self._file
        with file.lock:
            old = self._state
            check_expected(old, expected_hash)
            new, rows = change(old.tracepoints)
            new_hash = config_hash(new)
            if new_hash != old.hash:
                state = StoreState(old.version + 1, new, new_hash)
                file.commit(self._tenant, state, rows)
                self._state = state
            state = self._state
        self._listeners.publish()
        return state


def _body(tp: TracePoint) -> bytes:
    body: bytes = tp.to_proto().SerializeToString(deterministic=True)
    return body


def _decode(body: Any) -> Any:
    return tracepoint_pb2.TracePointConfig.FromString(body)


def _loaded(file: SqliteFile, tenant: str) -> StoreState:
    """The state of ``tenant`` as the file holds it, rows that no longer validate left out."""
    revision, stored_hash, rows = file.read(tenant)
    tracepoints: list[TracePoint] = []
    for tp_id, body in rows:
        try:
            tp = TracePoint.from_proto(_decode(body))
            if tp.id != tp_id:
                raise ValueError(f"its body has the id {shown(tp.id)}")
        except Exception as err:
            logger.warning(
                "%s: tenant %s: tracepoint %s left out, it no longer reads as one: %s",
                file.path,
                shown(tenant),
                shown(tp_id),
                cut(str(err)),
            )
            continue
        tracepoints.append(tp)
    loaded = tuple(tracepoints)
    loaded_hash = config_hash(loaded)
    if stored_hash is not None and loaded_hash != stored_hash:
        # What is served differs from what was written at this revision (rows left out,
        # or a newer hash rule): a new version, as any change of hash is.
        logger.warning(
            "%s: tenant %s: the config read has hash %s, not the %s written; serving it",
            file.path,
            shown(tenant),
            loaded_hash,
            shown(stored_hash),
        )
        revision += 1
    return StoreState(revision, loaded, loaded_hash)
