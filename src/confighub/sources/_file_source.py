"""``FileSource``: keeps a hub on the tracepoints of a YAML or JSON file, reloaded on change.

Reading, watching and keeping the last good config are ``FileStore``'s work;
the source applies each good read to the hub and turns each refused edit into
the hub's status. A bad edit keeps the last good config: the hub goes
INTERRUPTED with a ``TracePointFileError`` naming the file, the line and the
reason, and VALID again with the next good read (even of the same config).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path
from typing import Self

from confighub._internal.filewatch import SETTLE_MS
from confighub._internal.lifecycle import StartStop
from confighub._internal.text import short_hash
from confighub.exceptions import HubClosed, LifecycleError, TracePointFileError
from confighub.hub import ConfigHub, SourceState
from confighub.stores import FileStore, StoreState

__all__ = ["FileSource"]

logger = logging.getLogger("confighub")


class FileSource(StartStop):
    """Applies the tracepoint file at ``path`` to ``hub`` now and after every change.

    ``start()`` loads the file and raises ``TracePointFileError`` if it is bad
    (fix the file and call it again); later edits are applied from a watcher
    thread, once the file has stayed unchanged for ``debounce_ms`` (so a burst of
    writes, or a slow writer, is applied once, whole). The path may be a symlink,
    a Kubernetes ConfigMap mount included.
    """

    def __init__(
        self, path: str | os.PathLike[str], hub: ConfigHub, *, debounce_ms: int = SETTLE_MS
    ) -> None:
        self.path = Path(path)
        self._hub = hub
        self._debounce_ms = debounce_ms
        self._store: FileStore | None = None
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
            raise LifecycleError("this FileSource was stopped; create a new one")
        if self._store is None:
            # The store reads the file, watches it, then reads it once more: that read
            # applies the config, and no edit made meanwhile is missed.
            self._store = FileStore(
                self.path,
                on_error=self._refused,
                on_reload=self._apply,
                debounce_ms=self._debounce_ms,
            )
        return self

    def reload(self) -> None:
        """Apply the file now; on a bad file keep the last good config, report and raise.

        The ``TracePointFileError`` raised is also the hub's status error and says
        which config was kept.
        """
        if self._store is None:
            raise LifecycleError("start() the FileSource first")
        if not self._store.reload() and self._last_error is not None:
            raise self._last_error

    def stop(self) -> None:
        """Stop watching and mark the hub OFF (unless it is closed); idempotent."""
        self._stopped = True
        if self._store is not None:
            self._store.close()
        with contextlib.suppress(HubClosed):  # close() already marked the hub OFF
            self._hub.set_status(SourceState.OFF)

    def __repr__(self) -> str:
        return f"<FileSource {self.path} hash={self._applied_hash}>"

    def _apply(self, state: StoreState) -> None:
        try:
            self._hub.update_new_config(time.time_ns(), state.hash, state.tracepoints)
        except HubClosed:
            logger.debug("the hub closed; %s is no longer applied", self.path)
            return
        self._applied_hash, self._last_error = state.hash, None

    def _refused(self, err: TracePointFileError) -> None:
        reason = f"{err.reason}; kept the last good config, hash {short_hash(self._applied_hash)}"
        kept = TracePointFileError(err.path, err.line, reason)
        self._last_error = kept
        with contextlib.suppress(HubClosed):
            self._hub.set_status(SourceState.INTERRUPTED, kept)
