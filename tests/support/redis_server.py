"""A real ``redis-server`` for tests: a child process on 127.0.0.1 and a free port.

Each server lives in a folder of its own: its data under ``data/`` (what ``restart(empty=True)``
removes) and its log in ``redis.log`` (quoted when it fails to start). It never uses 6379, so
a system Redis that installing Debian's package may have started is never in the way.
Protected mode stays on: it refuses only clients from outside loopback, which we never have.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

MISSING = (
    "redis-server is not on PATH: install redis-server (Debian/Ubuntu: apt-get install "
    "redis-server; macOS: brew install redis) and run make test again"
)
"""What a test says when there is no binary: the same words as the Makefile's."""

START_TIMEOUT = 10.0
"""How long a server may take to answer (it takes about 10 ms) or to stop."""

PORT_ATTEMPTS = 5
"""Fresh ports tried when another process binds the one found free before redis-server could."""

_PROBE_TIMEOUT = 0.1
"""Short, and retried: a socket that accepts but never answers (a port race) must not hold us."""

_LOG_TAIL_LINES = 20
_LOG_TAIL_CHARS = 2000
_POLL_INTERVAL = 0.005


class RedisServerError(RuntimeError):
    """redis-server is missing, would not start on its port, or is used out of order."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """``redis-server`` in ``directory``, bound to 127.0.0.1 on a free port; a context manager.

    It saves nothing by default. ``persistent=True`` turns on the append-only file, synced on
    every write, so a key survives ``stop()`` or ``kill()`` and a restart. ``password`` sets
    ``requirepass``; ``url`` never carries it, so a URL shown in a message never shows it.
    """

    def __init__(
        self, directory: Path, *, persistent: bool = False, password: str | None = None
    ) -> None:
        self.directory = directory
        self.persistent = persistent
        self.password = password
        self._port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_start = 0

    @property
    def log(self) -> Path:
        """The server's log file (its stdout and stderr too)."""
        return self.directory / "redis.log"

    @property
    def data(self) -> Path:
        """The folder of the server's data files."""
        return self.directory / "data"

    @property
    def port(self) -> int:
        """The port it listens on, the same across restarts."""
        if self._port is None:
            raise RedisServerError("the redis-server was never started: it has no port")
        return self._port

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``, without the password."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        """Whether the child process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> RedisServer:
        """Start on a free port (a fresh one on a port race) and wait until it answers."""
        if self._process is not None:
            raise RedisServerError(f"the redis-server on port {self._port} is already running")
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisServerError(MISSING)
        if self._port is not None:
            self._launch(binary, self._port)
            return self
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                self._launch(binary, _free_port())
            except RedisServerError:
                if attempt == PORT_ATTEMPTS or "already in use" not in self._log_tail():
                    raise
            else:
                return self
        raise AssertionError("unreachable: the last attempt returns or raises")

    def stop(self) -> None:
        """Stop gracefully (SHUTDOWN NOSAVE, else SIGTERM) and wait for it to exit."""
        if self.running:
            # SHUTDOWN exits at once; SIGTERM waits for the server's next tick, about 100 ms.
            try:
                with self._client(START_TIMEOUT) as client:
                    client.shutdown(nosave=True)
            except redis.RedisError:
                self._signal(signal.SIGTERM)
        self._reap()

    def kill(self) -> None:
        """Kill it (SIGKILL), as a crash would, and wait for it to be gone."""
        self._signal(signal.SIGKILL)
        self._reap()

    def restart(self, *, empty: bool = False) -> None:
        """Stop and start again on the same port; ``empty`` removes its data files in between."""
        self.stop()
        if empty:
            shutil.rmtree(self.data, ignore_errors=True)
        self.start()

    def client(self) -> redis.Redis:
        """A sync client for assertions, which the caller closes; it fails at once when down.

        No retries: a test that asserts on a stopped server must not wait through redis-py's.
        """
        return self._client(START_TIMEOUT)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _command(self, binary: str, port: int) -> list[str]:
        command = [binary, "--bind", "127.0.0.1", "--port", str(port), "--daemonize", "no"]
        command += ["--dir", str(self.data), "--logfile", str(self.log), "--save", ""]
        if self.persistent:
            command += ["--appendonly", "yes", "--appendfsync", "always"]
        if self.password is not None:
            command += ["--requirepass", self.password]
        return command

    def _client(self, timeout: float) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            password=self.password,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )

    def _launch(self, binary: str, port: int) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as output:
            self._log_start = output.tell()
            self._process = subprocess.Popen(
                self._command(binary, port),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self._port = port
        self._wait_until_answering()

    def _wait_until_answering(self) -> None:
        """Wait until it answers, bounded by START_TIMEOUT; else kill it and quote its log."""
        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT
        with self._client(_PROBE_TIMEOUT) as probe:
            while self._process.poll() is None:
                try:
                    # Its own pid, not just PONG: in a port race another server may answer.
                    if probe.info("server").get("process_id") == self._process.pid:
                        return
                except redis.RedisError:
                    pass  # not listening yet, or not ours: try again until it exits or time is up
                if time.monotonic() > deadline:
                    break
                time.sleep(_POLL_INTERVAL)
        code = self._process.poll()
        self.kill()
        how = (
            f"exited with {code}" if code is not None else f"not answering after {START_TIMEOUT} s"
        )
        raise RedisServerError(
            f"redis-server on 127.0.0.1:{self._port} {how}; the end of {self.log}:\n"
            f"{self._log_tail()}"
        )

    def _signal(self, how: signal.Signals) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(how)

    def _reap(self) -> None:
        """Wait for the process to exit (SIGKILL after START_TIMEOUT) and forget it."""
        if self._process is None:
            return
        process, self._process = self._process, None
        try:
            process.wait(START_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _log_tail(self) -> str:
        """The last lines this run of the server wrote to the log."""
        with self.log.open("rb") as log:
            log.seek(self._log_start)
            lines = log.read().decode("utf-8", errors="replace").splitlines()
        return "\n".join(lines[-_LOG_TAIL_LINES:])[-_LOG_TAIL_CHARS:]
