"""``FileStore``: serve the tracepoints of a YAML or JSON file, reloaded on every edit.

A bad edit never reaches clients: the store keeps serving the last good config,
logs what was wrong and where (file, line, reason, and the hash it kept), and
exposes the error until a good edit clears it. A watched file is read only once
it has settled (``debounce_ms`` without a change, and two reads that agree), so a
file still being written is not served half-way; atomic edits (write a temporary
file, then ``os.replace`` it over the real one) are still the safest. The path may
be a symlink, a Kubernetes ConfigMap mount included, and its folder may be
deleted and made again.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from confighub._internal.filewatch import SETTLE_MS, FileWatcher
from confighub._internal.lifecycle import Closing
from confighub._internal.text import counted, cut, short_hash
from confighub.exceptions import ReadOnlyStore, TracePointFileError
from confighub.files._io import load_reusing
from confighub.files._shape import EntryCache
from confighub.model import TracePoint, config_hash
from confighub.stores._store import StoreBase, StoreListeners, StoreState

__all__ = ["FileStore"]

logger = logging.getLogger("confighub")


class FileStore(StoreBase, Closing):
    """A store that follows a tracepoint file (see ``confighub.files`` for the format).

    The file is read at construction, and a bad file then raises
    ``TracePointFileError``. With ``watch=True`` (the default) a background
    thread reloads it after each change until ``close()``, once the file has
    stayed unchanged for ``debounce_ms`` (300 by default); with ``watch=False``
    it is reloaded only by ``reload()``. ``on_error(err)`` is called, on the
    reloading thread, with each ``TracePointFileError`` of a bad edit; the latest
    is also kept in ``error`` until the file is good again. ``on_reload(state)``
    is called after every good read, changed or not, in the order of the reads
    (``FileSource`` applies each one to its hub).

    The file is the one source of truth: ``create``, ``replace`` and ``delete``
    raise ``ReadOnlyStore`` naming it (the management API answers 409: edit the file).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        watch: bool = True,
        on_error: Callable[[TracePointFileError], None] | None = None,
        on_reload: Callable[[StoreState], None] | None = None,
        debounce_ms: int = SETTLE_MS,
    ) -> None:
        self.path = Path(path)
        self._on_error = on_error
        self._on_reload = on_reload
        self._lock = threading.Lock()
        self._reload_lock = threading.Lock()
        # Each good read keeps its tracepoints for the next: an entry left as it was
        # gives the same object, so consecutive configs share what did not change.
        self._entries = EntryCache()
        tracepoints = load_reusing(self.path, self._entries)
        self._state = StoreState(0, tracepoints, config_hash(tracepoints))
        self._error: TracePointFileError | None = None
        self._listeners = StoreListeners(lambda: self._state)
        self._watcher: FileWatcher | None = None
        if watch:
            self._watcher = FileWatcher(self.path, self._file_changed, settle_ms=debounce_ms)
            self._watcher.start()
            # An edit made between the first read and the watch being in place is not
            # lost: read once more now that every later edit will be seen.
            self.reload()

    def __repr__(self) -> str:
        state = self._state
        status = "ok" if self._error is None else f"error: {self._error}"
        return (
            f"FileStore({str(self.path)!r}, version={state.version}, hash={state.hash}, {status})"
        )

    @property
    def error(self) -> TracePointFileError | None:
        """Why the file's latest content was refused, or None when it is being served."""
        return self._error

    def reload(self) -> bool:
        """Read the file now; return True if it was good (and is now served).

        A bad file changes nothing that is served: it is logged, stored in
        ``error`` and passed to ``on_error``.
        """
        with self._reload_lock:
            try:
                tracepoints = load_reusing(self.path, self._entries)
            except TracePointFileError as err:
                self._refuse(err)
                return False
            except Exception as err:
                # Every failure to read is meant to be a TracePointFileError; should one
                # escape, it is still refused, so the file cannot be served as good.
                logger.exception("reading %s raised", self.path)
                reason = f"could not be read: {type(err).__name__}: {cut(str(err))}"
                self._refuse(TracePointFileError(str(self.path), None, reason))
                return False
            new_hash = config_hash(tracepoints)
            with self._lock:
                old = self._state
                if new_hash != old.hash:
                    self._state = StoreState(old.version + 1, tracepoints, new_hash)
            if self._error is not None:
                logger.info(
                    "%s is valid again: serving %s, hash %s",
                    self.path,
                    counted(len(tracepoints), "tracepoint"),
                    short_hash(new_hash),
                )
            self._error = None
            _call(self._on_reload, self._state)
        self._listeners.publish()
        return True

    def set(
        self, tracepoints: Iterable[TracePoint], *, expected_hash: str | None = None
    ) -> StoreState:
        """Refuse: raise ``ReadOnlyStore`` naming the file to edit instead."""
        raise self._read_only()

    def create(self, tp: TracePoint, *, expected_hash: str | None = None) -> StoreState:
        """Refuse: raise ``ReadOnlyStore`` naming the file to edit instead."""
        raise self._read_only()

    def replace(self, tp: TracePoint, *, expected_hash: str | None = None) -> StoreState:
        """Refuse: raise ``ReadOnlyStore`` naming the file to edit instead."""
        raise self._read_only()

    def delete(
        self, tp_id: str, *, expected_hash: str | None = None
    ) -> tuple[StoreState, TracePoint]:
        """Refuse: raise ``ReadOnlyStore`` naming the file to edit instead."""
        raise self._read_only()

    def _read_only(self) -> ReadOnlyStore:
        return ReadOnlyStore(f"it serves the file {self.path}: edit the file")

    def close(self) -> None:
        """Stop watching the file and join the watching thread; idempotent."""
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()

    def _file_changed(self) -> None:
        # The watcher's callback: ``reload`` reports a bad edit itself.
        self.reload()

    def _refuse(self, err: TracePointFileError) -> None:
        self._error = err
        kept = short_hash(self._state.hash)
        logger.error("%s; kept the last good config, hash %s", err, kept)
        _call(self._on_error, err)


def _call(callback: Callable[[Any], object] | None, value: object) -> None:
    # A callback's failure is its own: the store goes on serving.
    if callback is not None:
        try:
            callback(value)
        except Exception:
            logger.exception("FileStore callback %r raised", callback)
