"""Running the command line on the main thread, where it answers signals, as a process does.

``main_on_this_thread`` runs ``main(argv)`` on the test's own (main) thread, so that
its SIGINT and SIGHUP handlers are installed, while a script on another thread drives
it and reads its output from a ``Transcript`` as it is written. When the script is
done (or fails), SIGINT is sent to the main thread until ``main`` returns.
"""

from __future__ import annotations

import io
import signal
import threading
from collections.abc import Callable

import pytest

from confighub.cli import main
from tests.support.threads import in_thread
from tests.support.waiting import TIMEOUT

Send = Callable[[signal.Signals], None]
_INTERRUPT_EVERY = 0.05
"""How often the stopping SIGINT is sent again: one sent before the handler was in is lost."""


class Transcript(io.StringIO):
    """A text stream (stdout, stderr or both) that a test can wait on while it is written."""

    encoding = "utf-8"

    def __init__(self) -> None:
        super().__init__()
        self._changed = threading.Condition()

    def write(self, text: str) -> int:
        with self._changed:
            written = super().write(text)
            self._changed.notify_all()
        return written

    def text(self) -> str:
        """Everything written so far."""
        with self._changed:
            return self.getvalue()

    def wait_for(self, part: str, timeout: float = TIMEOUT) -> str:
        """Block until ``part`` has been written; return the transcript so far."""
        with self._changed:
            if not self._changed.wait_for(lambda: part in self.getvalue(), timeout):
                pytest.fail(f"timed out waiting for {part!r}; got:\n{self.getvalue()}")
            return self.getvalue()


def main_on_this_thread(argv: list[str], script: Callable[[Send], object] | None = None) -> int:
    """Run ``main(argv)`` here while ``script(send)`` runs on a thread; return the exit code.

    ``send(signum)`` delivers a signal to this thread; the script must first wait for
    output that shows the command's handlers are in. SIGINT and SIGHUP are ignored
    around the run, so one that arrives a moment late harms nothing.
    """
    main_thread = threading.main_thread().ident
    assert main_thread == threading.get_ident(), "main_on_this_thread runs on the main thread"
    done = threading.Event()
    failures: list[BaseException] = []

    def send(signum: signal.Signals) -> None:
        if not done.is_set():
            signal.pthread_kill(main_thread, signum)

    def drive() -> None:
        try:
            if script is not None:
                script(send)
        except BaseException as err:
            failures.append(err)
        finally:
            while not done.wait(_INTERRUPT_EVERY):
                send(signal.SIGINT)

    saved = {signum: signal.signal(signum, signal.SIG_IGN) for signum in _IGNORED}
    try:
        driver = in_thread(drive)
        try:
            code = main(argv)
        finally:
            done.set()
            driver.join(TIMEOUT)
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
    if failures:
        raise failures[0]
    return code


_IGNORED = (signal.SIGINT, signal.SIGHUP)
