"""The one place the command line shows events: log records of the ``confighub`` logger.

What the library logs (a refused edit, a file valid again, a failed poll, a refused
client) is shown as the library logs it, once: the CLI prints no copy of its own. What
only the CLI knows (a server's banner, a reload, a snapshot, a first connection) it logs
on ``confighub.cli``, so it takes the same format and level. One exception: a fatal poll
failure is reported by the CLI in its own option names (``--token``, not ``token=``), so
the library's record of it is left out.

Records go to stderr as text (a local time, the level, the message) or, with
``--log-format json``, as one JSON object per line (``ts``, ``level``, ``logger``,
``message``, and ``exc`` with a traceback) for log collectors. The ``error:`` line that
ends a failed command goes through here too, so it also follows the format.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import traceback
from datetime import UTC, datetime
from typing import ClassVar, Final

import click
from rich.text import Text

from confighub.cli._render import console
from confighub.exceptions import PollFailed

__all__ = ["FORMATS", "LEVELS", "LOGGER", "CommandFailed", "Session", "cli_logger"]

LOGGER: Final = "confighub"
LEVELS: Final = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
FORMATS: Final = ("text", "json")
_STYLES: Final = {"DEBUG": "dim", "INFO": "green", "WARNING": "yellow", "ERROR": "bold red"}

cli_logger: Final = logging.getLogger(f"{LOGGER}.cli")
"""Where the CLI logs what only it knows."""


class CommandFailed(Exception):
    """A command could not do its job: the run ends with ``error: <message>``, exit 1."""


def _reported_by_the_cli(record: logging.LogRecord) -> bool:
    """False for the library's record of a fatal poll failure: the CLI reports it itself."""
    if record.levelno < logging.WARNING:
        return True  # the library's retries, for whoever asked for its debug detail
    args = record.args if isinstance(record.args, tuple) else ()
    return not any(isinstance(arg, PollFailed) and arg.fatal for arg in args)


def _traceback(record: logging.LogRecord) -> str | None:
    if not record.exc_info or record.exc_info[1] is None:
        return None
    return "".join(traceback.format_exception(record.exc_info[1])).rstrip()


class _TextHandler(logging.Handler):
    """``2025-06-01 12:00:00.123 WARNING message``, coloured on a terminal only."""

    def __init__(self) -> None:
        super().__init__()
        self._console = console(stderr=True)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            when = datetime.fromtimestamp(record.created).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
            line = Text(when, style="dim")
            line.append(f" {record.levelname:<7} ", style=_STYLES.get(record.levelname, ""))
            line.append(record.getMessage())
            trace = _traceback(record)
            if trace is not None:
                line.append("\n" + trace, style="dim")
            self._console.print(line)
        except Exception:
            self.handleError(record)


def _json_line(record: logging.LogRecord) -> str:
    data = {
        "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "message": record.getMessage(),
    }
    trace = _traceback(record)
    if trace is not None:
        data["exc"] = trace
    return json.dumps(data, ensure_ascii=False)


class _JsonHandler(logging.Handler):
    """One JSON object per line on the current stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr
            stream.write(_json_line(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


class _Runs:
    """The runs whose handlers are on the logger, and its level and propagation before them."""

    lock: ClassVar = threading.Lock()
    active: ClassVar[list[Session]] = []
    saved: ClassVar[tuple[int, bool]] = (logging.NOTSET, True)


class Session:
    """The logging of one run of the command line, from the group's options to its end.

    Until ``configure`` (a usage error in the group's own options), text at INFO.
    In-process runs (the tests) may overlap: each adds its own handler, and the
    ``confighub`` logger's own level and propagation are put back by the last to close.
    """

    def __init__(self) -> None:
        self.format = "text"
        self.level = logging.INFO
        self._handler: logging.Handler | None = None

    @property
    def debug(self) -> bool:
        """Whether tracebacks are shown (``-v`` or ``--log-level debug``)."""
        return self.level <= logging.DEBUG

    def configure(self, level: int, log_format: str) -> None:
        """Show the ``confighub`` logger's records at ``level`` and above, in ``log_format``."""
        self.level, self.format = level, log_format
        handler = _JsonHandler() if log_format == "json" else _TextHandler()
        handler.setLevel(level)
        handler.addFilter(_reported_by_the_cli)
        logger = logging.getLogger(LOGGER)
        with _Runs.lock:
            if not _Runs.active:
                _Runs.saved = (logger.level, logger.propagate)
            _Runs.active.append(self)
            self._handler = handler
            logger.addHandler(handler)
            logger.setLevel(min(run.level for run in _Runs.active))
            # A handler of the application's root logger (or pytest's) would print a second copy.
            logger.propagate = False

    def close(self) -> None:
        """Remove this run's handler; the last run to close restores the logger. Idempotent."""
        logger = logging.getLogger(LOGGER)
        with _Runs.lock:
            if self._handler is None:
                return
            logger.removeHandler(self._handler)
            self._handler = None
            _Runs.active.remove(self)
            if _Runs.active:
                logger.setLevel(min(run.level for run in _Runs.active))
            else:
                logger.setLevel(_Runs.saved[0])
                logger.propagate = _Runs.saved[1]

    def error(self, message: str, exc: BaseException | None = None) -> None:
        """The line that ends a failed command: ``error: message``, or a JSON record.

        ``exc``'s traceback follows it in debug mode; otherwise a hint says how to see it.
        """
        trace = exc if exc is not None and self.debug else None
        if exc is not None and trace is None:
            message += " (run with -v for the traceback)"
        if self.format == "json":
            record = cli_logger.makeRecord(
                cli_logger.name, logging.ERROR, __file__, 0, message, (), None
            )
            if trace is not None:
                record.exc_info = (type(trace), trace, trace.__traceback__)
            sys.stderr.write(_json_line(record) + "\n")
            return
        click.echo(f"error: {message}", err=True)
        if trace is not None:
            click.echo("".join(traceback.format_exception(trace)).rstrip(), err=True)
