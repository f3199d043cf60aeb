"""What ``watch``, ``record``, ``replay`` and ``check`` do, apart from parsing their options.

Each runs until it is done or ``stop`` is set (the CLI sets it on Ctrl-C or
SIGTERM), prints its data (changes, a config) to a rich ``Console`` on stdout,
logs events (see ``_logging``), and cleans up every thread and channel it started.
A command that cannot do its job raises ``CommandFailed``. ``serve`` is ``_serve``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console

from confighub._internal.text import counted, short_hash
from confighub.cli._logging import CommandFailed
from confighub.cli._polling import Connection, follow
from confighub.cli._render import change_record, render_change, render_config
from confighub.events import ConfigChange
from confighub.events._wording import tally
from confighub.exceptions import TracePointFileError
from confighub.files import file_problems, load_tracepoints
from confighub.hub import ConfigHub
from confighub.model import config_hash
from confighub.operators import ChangeOperator, debounce_changes, only_paths
from confighub.tapes import Recorder, replay
from confighub.virtual import HeapHistoricalScheduler

__all__ = ["PROBLEMS_SHOWN", "check_file", "record_target", "replay_tape", "watch_target"]

PROBLEMS_SHOWN = 50
"""``check`` lists this many problems of a file at most."""


class _Counter:
    """Passes changes on to ``out``, counting them; after ``count`` of them, sets ``stop``."""

    def __init__(
        self,
        out: Callable[[ConfigChange], object],
        count: int | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.seen = 0
        self._count = count
        self._stop = stop
        self._out = out
        self._lock = threading.Lock()

    def __call__(self, change: ConfigChange) -> None:
        with self._lock:
            if self._count is not None and self.seen >= self._count:
                return
            self.seen += 1
            self._out(change)
            if self._stop is not None and self._count is not None and self.seen >= self._count:
                self._stop.set()


def _printer(console: Console, as_json: bool) -> Callable[[ConfigChange], None]:
    def show(change: ConfigChange) -> None:
        if as_json:
            # One line per change, unwrapped, whatever the terminal's width.
            console.out(json.dumps(change_record(change)), highlight=False)
        else:
            console.print(render_change(change))

    return show


def _pipeline(paths: Sequence[str], debounce: float | None) -> list[ChangeOperator]:
    pipeline: list[ChangeOperator] = []
    if paths:
        pipeline.append(only_paths(*paths))
    if debounce:
        pipeline.append(debounce_changes(debounce))
    return pipeline


def check_file(file: Path, console: Console, errors: Console) -> int:
    """Print the tracepoints of ``file`` and their hash, or every problem in it.

    Problems go to ``errors``, a ``file:line: reason`` line each, as compilers
    print them; then ``CommandFailed`` says how many. Returns the number of tracepoints.
    """
    try:
        tracepoints = load_tracepoints(file)
    except TracePointFileError as first:
        # Only a bad file is read again, to find every problem, not just the first.
        problems = file_problems(file, limit=PROBLEMS_SHOWN) or (first,)
        for problem in problems:
            errors.print(str(problem), markup=False)
        more = f" (the first {PROBLEMS_SHOWN})" if len(problems) >= PROBLEMS_SHOWN else ""
        raise CommandFailed(f"{file}: {counted(len(problems), 'problem')}{more}") from None
    console.print(render_config(tracepoints), end="")
    console.print(f"{counted(len(tracepoints), 'tracepoint')}, hash {config_hash(tracepoints)}")
    return len(tracepoints)


def watch_target(
    connection: Connection,
    console: Console,
    stop: threading.Event,
    *,
    debounce: float | None,
    paths: Sequence[str],
    as_json: bool,
    count: int | None,
    duration: float | None,
) -> int:
    """Print each change of the polled config until ``stop``, ``count`` changes or ``duration``.

    Changes go to ``console``; the connection's health is logged. Returns the
    number of changes printed.
    """
    show = _Counter(_printer(console, as_json), count, stop)
    with ConfigHub() as hub:
        hub.changes.pipe(*_pipeline(paths, debounce)).subscribe(show)
        follow(connection, hub, stop, duration, nothing="watched nothing")
    return show.seen


def record_target(
    connection: Connection,
    tape: Path,
    console: Console,
    stop: threading.Event,
    *,
    count: int | None,
    duration: float | None,
) -> int:
    """Record the polled config's changes to ``tape`` (the first holds the whole config).

    Runs until ``stop``, ``count`` changes or ``duration``; prints a line per
    change recorded. Returns the number of changes recorded.
    """

    def note(change: ConfigChange) -> None:
        recorder.on_next(change)
        console.print(
            f"recorded change {recorder.count}: {short_hash(change.old_hash)} →"
            f" {short_hash(change.new_hash)}  {tally(change.diff)}  ({len(change.new)} live)"
        )

    with Recorder(tape, source=connection.target) as recorder, ConfigHub() as hub:
        # A new hub: its changes start from no config, so the first holds the whole config.
        hub.changes.subscribe(_Counter(note, count, stop))
        follow(connection, hub, stop, duration, nothing=f"recorded nothing to {tape}")
    console.print(f"{counted(recorder.count, 'change')} recorded to {tape}")
    return recorder.count


def replay_tape(
    tape: Path,
    console: Console,
    stop: threading.Event,
    *,
    speed: float | None,
    debounce: float | None,
    paths: Sequence[str],
    as_json: bool,
    strict: bool,
) -> int:
    """Print the changes recorded in ``tape``, through the same filters as ``watch``.

    Without ``speed`` the tape replays in virtual time, at once, with
    ``debounce`` counted in recorded time; with it, in real time divided by
    ``speed``. A non-strict replay stops at the first bad line (the library logs where).
    Returns the number of changes printed.
    """
    printed = _Counter(_printer(console, as_json))
    ended = threading.Event()
    failure: list[Exception] = []

    def failed(err: Exception) -> None:
        failure.append(err)
        ended.set()

    virtual = speed is None
    scheduler = HeapHistoricalScheduler() if virtual else None
    real_debounce = debounce / speed if debounce and speed else debounce
    # A lenient replay that stops early is logged by the library, with the line and why.
    stream = replay(tape, speed=speed, strict=strict)
    subscription = stream.pipe(*_pipeline(paths, real_debounce)).subscribe(
        printed, failed, ended.set, scheduler=scheduler
    )
    if scheduler is not None:
        scheduler.start()
    else:
        while not (ended.is_set() or stop.is_set()):
            ended.wait(0.1)
    subscription.dispose()
    if failure:
        raise failure[0]
    return printed.seen
