"""Call back when one file changes, from a background thread (``watchfiles``).

The parent directory is watched rather than the file itself: editors and
``os.replace`` swap the file for a new one, which a watch on the old inode
would miss. Only changes to the file's own name are reported; a burst of
events (write, then rename) is coalesced by watchfiles' debounce into one
callback.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Self

import watchfiles

from confighub._internal.lifecycle import StartStop

__all__ = ["FileWatcher"]

logger = logging.getLogger("confighub")


class FileWatcher(StartStop):
    """Runs ``on_change()`` on a daemon thread each time ``path`` is written, replaced or removed.

    ``start()`` returns once the watch is in place, so an edit made right after
    it is seen. ``on_change`` exceptions are logged and the watch goes on.
    """

    def __init__(
        self, path: str | os.PathLike[str], on_change: Callable[[], None], *, debounce_ms: int = 50
    ) -> None:
        self.path = Path(path).absolute()
        self._on_change = on_change
        self._debounce_ms = debounce_ms
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Begin watching; idempotent."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"confighub-watch-{self.path.name}", daemon=True
            )
            self._thread.start()
            self._ready.wait(5.0)
        return self

    def stop(self) -> None:
        """Stop watching and join the thread; idempotent."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()

    def _is_ours(self, _: watchfiles.Change, changed: str) -> bool:
        return Path(changed).absolute() == self.path

    def _run(self) -> None:
        watcher = watchfiles.watch(
            self.path.parent,
            watch_filter=self._is_ours,
            debounce=self._debounce_ms,
            step=10,
            stop_event=self._stop,
            rust_timeout=100,
            yield_on_timeout=True,
            recursive=False,
        )
        for changes in watcher:
            # The first (empty, on timeout) yield means the notify watcher is installed.
            self._ready.set()
            if changes and not self._stop.is_set():
                try:
                    self._on_change()
                except Exception:
                    logger.exception("file watch callback for %s raised", self.path)
        self._ready.set()
