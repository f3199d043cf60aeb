"""``confighub serve`` as a real child process: started, found where it listens, killed.

The child logs to stderr, and keeps logging while it serves (a line per change of its
store): a thread reads every line as it comes, so the pipe never fills and stalls it,
and the test can wait for a line or read what was said.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping

from tests.support.threads import in_thread
from tests.support.waiting import TIMEOUT, Recorder

BANNER = "Ctrl-C stops"
"""The end of the line ``serve`` logs once it serves."""

_WHERE = re.compile(r" on gRPC (\S+) and HTTP (\S+?); Ctrl-C stops")
_EOF = ""
"""What the reader records when the child's stderr ends (a line read is never empty)."""


class ServeProcess:
    """A running ``confighub serve``: the process, its banner, where it listens, its stderr."""

    def __init__(self, child: subprocess.Popen[str], lines: Recorder[str]) -> None:
        self.child = child
        self.lines = lines
        said = lines.wait_for(lambda seen: _EOF in seen or any(BANNER in x for x in seen), BANNER)
        banners = [line for line in said if BANNER in line]
        assert banners, f"serve ended before it served; it said:\n{''.join(said)}"
        self.banner = banners[0]
        found = _WHERE.search(self.banner)
        assert found is not None, f"the banner names no gRPC and HTTP address: {self.banner}"
        self.target, self.http_url = found[1], found[2]

    def text(self) -> str:
        """Everything the child wrote to stderr so far."""
        return "".join(self.lines.items)

    def kill(self) -> None:
        """SIGKILL it, as a crash or an OOM killer would, and wait for it to be gone."""
        os.kill(self.child.pid, signal.SIGKILL)
        self.child.wait(TIMEOUT)


@contextlib.contextmanager
def serving(*args: str, env: Mapping[str, str] | None = None) -> Iterator[ServeProcess]:
    """``confighub serve ARGS`` in a child process, once it serves; killed after the block."""
    command = [sys.executable, "-m", "confighub", "serve", *args]
    environment = {**os.environ, **(env or {})}
    child = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=environment
    )
    lines: Recorder[str] = Recorder()
    reader: threading.Thread | None = None
    try:
        stderr = child.stderr
        assert stderr is not None

        def read() -> None:
            for line in stderr:
                lines(line)
            lines(_EOF)

        reader = in_thread(read)
        yield ServeProcess(child, lines)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(TIMEOUT)
        if reader is not None:
            reader.join(TIMEOUT)
        if child.stderr is not None:
            child.stderr.close()
