"""Call back when one file has changed and settled, from a background thread (``watchfiles``).

Folders are watched, not the file: editors and ``os.replace`` swap the file for a new
one, which a watch on the old inode would miss. Which folders is worked out again at
every event and every tick (``TICK_MS``), by following the path's symlinks:

- the folder of the path, of each symlink it goes through, and of the file it ends at.
  A Kubernetes ConfigMap update renames a new ``..data`` symlink over the old one in
  the path's folder; an edit through a plain symlink happens in the target's folder.
- for a folder that does not exist (deleted, or not made yet), its nearest existing
  ancestor, so that the folder coming back is seen.

Events are a hint, not the whole truth: at each event and tick the watcher also looks
at what the path resolves to and at that file's device, inode, size and mtime, so a
change made while the watch was being moved, or one that no event names, still counts.

A change is reported once the file has settled, so that a file still being written is
never read: nothing happened to it for ``settle_ms``, then two reads back to back
agree (stat and a digest of the bytes) with each other and with the last stat seen.
A file found empty, as ``open(path, "w")`` leaves it until the writer writes, is
looked at once more a settle later before it is reported.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, NamedTuple, Self

import watchfiles

from confighub._internal.lifecycle import StartStop

__all__ = ["SETTLE_MS", "TICK_MS", "FileWatcher"]

logger = logging.getLogger("confighub")

SETTLE_MS: Final = 300
"""How long a changed file must stay untouched before it is read, by default."""

TICK_MS: Final = 50
"""How often the watcher looks at the file when no event comes."""

_STILL_CHANGING_S: Final = 10.0
"""After this long without settling, the watcher says so once (the file is not read yet)."""

_MAX_LINKS: Final = 40  # the kernel's own bound on a chain of symlinks (ELOOP)
# Past the size of any tracepoint file the store would accept, the stat tells edits apart.
_DIGEST_LIMIT: Final = 64 * 1024 * 1024
_CHUNK: Final = 1024 * 1024


class _Look(NamedTuple):
    """What the path resolves to and that file's stat (all None when it cannot be stat'ed)."""

    target: str
    device: int | None
    inode: int | None
    size: int | None
    mtime_ns: int | None


class _Plan(NamedTuple):
    """The folders to watch, and the paths whose events are the file's own."""

    folders: frozenset[str]
    names: frozenset[str]


def _look(path: str) -> _Look:
    target = os.path.realpath(path)
    try:
        stat = os.stat(target)
    except OSError:
        return _Look(target, None, None, None, None)
    return _Look(target, stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _read_look(path: str) -> tuple[_Look, bytes | None]:
    """A look and a digest of the bytes read right after it (None if they cannot be read)."""
    look = _look(path)
    digest = hashlib.blake2b(digest_size=16)
    try:
        with open(look.target, "rb") as file:
            remaining = _DIGEST_LIMIT
            while remaining > 0 and (chunk := file.read(min(_CHUNK, remaining))):
                digest.update(chunk)
                remaining -= len(chunk)
    except OSError:
        return look, None
    return look, digest.digest()


def _plan(path: str) -> _Plan:
    # The path's own folder is taken as it really is, so that event paths (reported under
    # the folders as watched) compare equal to the names.
    current = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
    names = [current]
    for _ in range(_MAX_LINKS):
        try:
            link = os.readlink(current)
        except OSError:  # not a symlink, or not there: the chain ends here
            break
        joined = os.path.join(os.path.dirname(current), link)
        current = os.path.join(os.path.realpath(os.path.dirname(joined)), os.path.basename(joined))
        names.append(current)
    folders = frozenset(_existing(os.path.dirname(name)) for name in names)
    return _Plan(folders, frozenset(names))


def _existing(folder: str) -> str:
    while not os.path.isdir(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return folder


class FileWatcher(StartStop):
    """Runs ``on_change()`` on a daemon thread after ``path`` is written, replaced or removed.

    ``on_change`` runs once the file has settled (see the module's docstring):
    ``settle_ms`` after the last change seen, or later while it is still changing.
    ``start()`` returns once the watch is in place, so an edit made right after it is
    seen. ``on_change`` exceptions are logged and the watch goes on.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        on_change: Callable[[], None],
        *,
        settle_ms: int = SETTLE_MS,
    ) -> None:
        self.path = Path(path).absolute()
        self._name = str(self.path)
        self._on_change = on_change
        self._settle = max(settle_ms, 0) / 1000
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen = _look(self._name)
        self._due: float | None = None  # when to read a changed file, if nothing more happens
        self._empty_looked_again = False
        self._changing_since: float | None = None  # the first change not yet reported
        self._said_still_changing = False

    def start(self) -> Self:
        """Begin watching; idempotent."""
        if self._thread is None:
            self._seen = _look(self._name)
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

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._watch(_plan(self._name))
            except Exception:
                # A folder can vanish between planning and watching: plan again a tick
                # later, and meanwhile look at the file as a tick would.
                logger.debug("watching %s failed; trying again", self.path, exc_info=True)
                self._ready.set()
                if not self._stop.wait(TICK_MS / 1000):
                    self._saw(named=False)
                    self._settle_and_report()
        self._ready.set()

    def _watch(self, plan: _Plan) -> None:
        """Watch ``plan``'s folders until the plan changes or the watcher stops."""
        changes_and_ticks = watchfiles.watch(
            *sorted(plan.folders),
            watch_filter=None,
            debounce=TICK_MS,
            step=10,
            stop_event=self._stop,
            rust_timeout=TICK_MS,
            yield_on_timeout=True,
            recursive=False,
        )
        for changes in changes_and_ticks:
            # The first (empty, on timeout) yield means the notify watcher is installed.
            self._ready.set()
            if self._stop.is_set():
                return
            now = _plan(self._name)
            names = plan.names | now.names
            self._saw(any(changed in names for _, changed in changes))
            self._settle_and_report()
            if now.folders != plan.folders:
                return
            plan = now

    def _saw(self, named: bool) -> None:
        # Any event naming the file, or any change of what it resolves to or of its stat,
        # starts the settle again.
        look = _look(self._name)
        if named or look != self._seen:
            self._seen = look
            self._due = time.monotonic() + self._settle
            self._empty_looked_again = False
            if self._changing_since is None:
                self._changing_since = time.monotonic()

    def _settle_and_report(self) -> None:
        self._say_if_still_changing()
        if self._due is None or time.monotonic() < self._due:
            return
        first, second = _read_look(self._name), _read_look(self._name)
        if first != second or first[0] != self._seen:
            self._seen = second[0]
            self._due = time.monotonic() + self._settle
            self._empty_looked_again = False
            return
        if first[0].size == 0 and not self._empty_looked_again:
            self._empty_looked_again = True
            self._due = time.monotonic() + self._settle
            return
        self._due = self._changing_since = None
        self._said_still_changing = False
        try:
            self._on_change()
        except Exception:
            logger.exception("file watch callback for %s raised", self.path)

    def _say_if_still_changing(self) -> None:
        # A file written over and over, faster than it settles, is never read: the last
        # good config stays in use, and the operator must hear why nothing reloads.
        since = self._changing_since
        if since is None or self._said_still_changing:
            return
        if time.monotonic() - since >= _STILL_CHANGING_S:
            self._said_still_changing = True
            logger.warning(
                "%s has kept changing for %.0f s without settling for %.1f s; it is read"
                " once it stops changing, and the last good config stays in use meanwhile",
                self.path,
                _STILL_CHANGING_S,
                self._settle,
            )
