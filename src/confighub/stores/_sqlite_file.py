"""``SqliteFile``: the open database behind a ``SqliteStore``, its schema and its failures.

Kept apart from the store so that what SQLite does (open, hold, check and write the
file) and what the store does with a config (``_sqlite``) read separately. Every
``sqlite3.Error`` ends here, as a ``StoreUnavailable`` that names the file and says what
to do: SQLite's own words ("database is locked") do not say that another server holds
the file. See ``_sqlite`` for the choices of the schema and the settings.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final

from confighub._internal.text import cut, shown
from confighub.exceptions import StoreUnavailable
from confighub.stores._store import StoreState

if TYPE_CHECKING:
    from confighub.stores._sqlite import SqliteStore

__all__ = ["SCHEMA_VERSION", "SqliteFile"]

logger = logging.getLogger("confighub")

SCHEMA_VERSION: Final = 1
"""The version of the schema below; a file of another one is refused, never migrated."""

_FORMAT: Final = "confighub-store"
_SYNCHRONOUS: Final = frozenset({"OFF", "NORMAL", "FULL", "EXTRA"})

_SCHEMA: Final = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE tenants (tenant TEXT PRIMARY KEY, revision INTEGER NOT NULL,"
    " hash TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE tracepoints (tenant TEXT NOT NULL, id TEXT NOT NULL,"
    " position INTEGER NOT NULL, body BLOB NOT NULL, PRIMARY KEY (tenant, id)) WITHOUT ROWID",
    "CREATE UNIQUE INDEX tracepoints_in_order ON tracepoints (tenant, position)",
)

_HINTS: Final = {
    "SQLITE_BUSY": "it is in use by another confighub server (SQLite holds it locked):"
    " stop that server, or give this one another file",
    "SQLITE_NOTADB": "it is not an SQLite database: give the path of a confighub store file,"
    " or of a file yet to be made",
    "SQLITE_CANTOPEN": "SQLite cannot open it: check that this user may read and write the"
    " file and its folder",
    "SQLITE_READONLY": "it cannot be written: a store writes its file and makes files beside"
    " it, so check the permissions of both and that the disk is not mounted read-only",
    "SQLITE_FULL": "the disk is full",
    "SQLITE_IOERR": "the disk refused (is it full, a file or folder this user may not write,"
    " an immutable file, a lost mount?)",
}


class SqliteFile:
    """One store file, open: its one connection, the lock of every use of it, its tenants.

    ``stores`` maps each tenant read so far to its ``SqliteStore``; ``read`` and
    ``commit`` are called with ``lock`` held (or before anyone else can have the file).
    """

    def __init__(self, path: Path, synchronous: str) -> None:
        level = synchronous.upper() if isinstance(synchronous, str) else None
        if level not in _SYNCHRONOUS:
            raise ValueError(
                f"synchronous must be one of {', '.join(sorted(_SYNCHRONOUS))},"
                f" got {shown(synchronous, 40)}"
            )
        self.path = path
        self.name = f"the SQLite store {cut(str(path))}"
        self.lock = threading.Lock()
        self.stores: dict[str, SqliteStore] = {}
        self._db: sqlite3.Connection | None = self._open(level)

    def read(self, tenant: str) -> tuple[int, str | None, list[tuple[str, bytes]]]:
        """The revision and hash of ``tenant`` (0 and None if never written) and its rows."""
        db = self._connection()
        try:
            row = db.execute(
                "SELECT revision, hash FROM tenants WHERE tenant = ?", (tenant,)
            ).fetchone()
            rows = db.execute(
                "SELECT id, body FROM tracepoints WHERE tenant = ? ORDER BY position", (tenant,)
            ).fetchall()
        except sqlite3.Error as err:
            raise StoreUnavailable(
                self.name, f"reading tenant {shown(tenant)} failed: {_said(err)}"
            ) from err
        revision, stored_hash = row if row is not None else (0, None)
        return revision, stored_hash, rows

    def commit(
        self, tenant: str, state: StoreState, rows: Callable[[sqlite3.Connection], None]
    ) -> None:
        """Run ``rows`` and record ``state`` as ``tenant``'s, in one transaction, or nothing.

        A ``COMMIT`` that fails is rolled back and raises ``StoreUnavailable``; it cannot
        be seen by this store again (its log frames are written over), though a crash
        before the next write may let SQLite find it whole, as for any write that was
        never acknowledged.
        """
        db = self._connection()
        try:
            if db.in_transaction:  # a rollback that failed before: the file is held, retry it
                db.execute("ROLLBACK")
            db.execute("BEGIN IMMEDIATE")
            try:
                rows(db)
                db.execute(
                    "INSERT INTO tenants (tenant, revision, hash) VALUES (?, ?, ?)"
                    " ON CONFLICT (tenant) DO UPDATE"
                    " SET revision = excluded.revision, hash = excluded.hash",
                    (tenant, state.version, state.hash),
                )
                db.execute("COMMIT")
            except BaseException:
                _roll_back(db)
                raise
        except sqlite3.Error as err:
            raise StoreUnavailable(
                self.name, f"the write failed, nothing of it was applied: {_said(err)}"
            ) from err

    def close(self) -> None:
        """Close the connection (which lets the file go); idempotent."""
        with self.lock:
            db, self._db = self._db, None
        if db is not None:
            try:
                db.close()
            except sqlite3.Error as err:
                logger.warning("closing %s failed: %s", self.name, _said(err))

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreUnavailable(self.name, "it was closed")
        return self._db

    def _open(self, level: str) -> sqlite3.Connection:
        # Checked first: SQLite says only "unable to open database file" for either.
        if self.path.is_dir():
            raise StoreUnavailable(self.name, "it is a folder: give the path of a file in it")
        if not self.path.parent.is_dir():
            raise StoreUnavailable(
                self.name, f"its folder {cut(str(self.path.parent))} does not exist: make it"
            )
        try:
            # No busy timeout: the file is only ever locked by a server that holds it for
            # good, so waiting could only delay the refusal.
            db = sqlite3.connect(
                self.path, timeout=0, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as err:
            raise StoreUnavailable(self.name, _said(err)) from err
        try:
            self._prepare(db, level)
        except BaseException as err:
            db.close()
            if isinstance(err, sqlite3.Error):
                raise StoreUnavailable(self.name, _said(err)) from err
            raise
        return db

    def _prepare(self, db: sqlite3.Connection, level: str) -> None:
        # EXCLUSIVE before WAL: the first read then takes the lock for good, and WAL keeps
        # its index in this process's memory (no -shm file another process could map).
        db.execute("PRAGMA locking_mode=EXCLUSIVE")
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode != "wal":
            raise StoreUnavailable(self.name, f"SQLite kept it in {shown(mode)} mode, not WAL")
        db.execute(f"PRAGMA synchronous={level}")  # one of _SYNCHRONOUS, checked
        db.execute("BEGIN IMMEDIATE")
        try:
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
            if tables:
                self._check_format(db, tables)
            else:
                for statement in _SCHEMA:
                    db.execute(statement)
                db.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("format", _FORMAT), ("schema_version", str(SCHEMA_VERSION))],
                )
            db.execute("COMMIT")
        except BaseException:
            _roll_back(db)
            raise

    def _check_format(self, db: sqlite3.Connection, tables: set[str]) -> None:
        meta: dict[object, object] = {}
        if "meta" in tables:
            try:
                meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            except sqlite3.Error:
                meta = {}  # a table of that name, but not ours
        if meta.get("format") != _FORMAT:
            raise StoreUnavailable(
                self.name,
                "it is an SQLite database but not a confighub store: give the path of a"
                " store file, or of a file yet to be made",
            )
        version = meta.get("schema_version")
        if version != str(SCHEMA_VERSION):
            raise StoreUnavailable(
                self.name,
                f"its schema version is {shown(version, 40)}, and this confighub reads"
                f" version {SCHEMA_VERSION} only: serve it with the confighub that wrote it",
            )


def _roll_back(db: sqlite3.Connection) -> None:
    # SQLite may have rolled back already (an I/O error during COMMIT does); a rollback
    # that fails leaves the transaction for the next commit to end.
    if db.in_transaction:
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error as err:
            logger.warning("rolling back a failed write failed: %s", _said(err))


def _said(err: sqlite3.Error) -> str:
    """What SQLite said, with its code, and what to do when the code says it."""
    code = getattr(err, "sqlite_errorname", None) or type(err).__name__
    said = f"SQLite: {cut(str(err))} ({code})"
    # An extended code (SQLITE_IOERR_WRITE) takes the hint of its primary one.
    hint = _HINTS.get(code) or _HINTS.get("_".join(code.split("_")[:2]))
    return f"{hint}; {said}" if hint else said
