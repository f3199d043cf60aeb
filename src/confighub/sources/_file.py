"""``FileSource``: keeps a hub on the tracepoints of a YAML or JSON file, reloaded on change.

A bad edit keeps the last good config: the hub goes INTERRUPTED with a
``TracePointFileError`` naming the file, the line and the reason, and VALID
again with the next good edit. Watching is ``confighub._filewatch.FileWatcher``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from pathlib import Path
from typing import Self

from confighub._filewatch import FileWatcher
from confighub._lifecycle import StartStop
from confighub.exceptions import HubClosed, TracePointFileError
from confighub.files import load_tracepoints
from confighub.hub import ConfigHub, SourceState
from confighub.model import TracePoint, config_hash

__all__ = ["FileSource"]

logger = logging.getLogger("confighub")


class FileSource(StartStop):
    """Applies the tracepoint file at ``path`` to ``hub`` now and after every change.

    ``start()`` loads the file and raises ``TracePointFileError`` if it is bad
    (fix the file and call it again); later edits are applied from a watcher
    thread (``debounce_ms`` coalesces a burst of writes).
    """

    def __init__(
        self, path: str | os.PathLike[str], hub: ConfigHub, *, debounce_ms: int = 50
    ) -> None:
        self.path = Path(path)
        self._hub = hub
        self._debounce_ms = debounce_ms
        self._watcher = self._new_watcher()
        # One reload at a time: the watcher's and an explicit reload() must not interleave.
        self._lock = threading.Lock()
        self._applied_hash: str | None = None
        self._last_error: TracePointFileError | None = None
        self._stopped = False

    @property
    def last_error(self) -> TracePointFileError | None:
        """Why the last bad edit was refused, None while the file is good."""
        return self._last_error

    def start(self) -> Self:
        """Load the file into the hub and watch it; raises ``TracePointFileError`` if it is bad."""
        if self._stopped:
            raise RuntimeError("this FileSource was stopped; create a new one")
        # Watch first, so that an edit made while the file loads is not missed.
        self._watcher.start()
        try:
            with self._lock:
                tracepoints = load_tracepoints(self.path)
                self._apply(tracepoints)
        except BaseException:
            # A stopped FileWatcher cannot start again; a fresh one lets start() be retried.
            self._watcher.stop()
            self._watcher = self._new_watcher()
            raise
        return self

    def reload(self) -> None:
        """Apply the file now; on a bad file keep the last good config, report and raise.

        The ``TracePointFileError`` raised is also the hub's status error and says
        which config was kept.
        """
        with self._lock:
            try:
                tracepoints = load_tracepoints(self.path)
            except TracePointFileError as err:
                kept = TracePointFileError(
                    err.path,
                    err.line,
                    f"{err.reason}; kept the last good config, hash {self._applied_hash}",
                )
                self._last_error = kept
                logger.warning("%s", kept)
                self._hub.set_status(SourceState.INTERRUPTED, kept)
                raise kept from err
            self._apply(tracepoints)

    def stop(self) -> None:
        """Stop watching and mark the hub OFF (unless it is closed); idempotent."""
        self._stopped = True
        self._watcher.stop()
        with contextlib.suppress(HubClosed):  # close() already marked the hub OFF
            self._hub.set_status(SourceState.OFF)

    def __repr__(self) -> str:
        return f"<FileSource {self.path} hash={self._applied_hash}>"

    def _new_watcher(self) -> FileWatcher:
        return FileWatcher(self.path, self._changed, debounce_ms=self._debounce_ms)

    def _apply(self, tracepoints: tuple[TracePoint, ...]) -> None:
        new_hash = config_hash(tracepoints)
        self._hub.update_new_config(time.time_ns(), new_hash, tracepoints)
        if self._last_error is not None:
            logger.info("%s is good again (hash %s)", self.path, new_hash)
        self._applied_hash, self._last_error = new_hash, None

    def _changed(self) -> None:
        try:
            self.reload()
        except TracePointFileError:
            pass  # reported on the hub's status and in the log
        except HubClosed:
            logger.debug("the hub closed; %s is no longer applied", self.path)
