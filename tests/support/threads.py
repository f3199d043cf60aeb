"""Threads a test starts, told apart from those other tests left running."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection

from confighub.cli import main


def alive() -> set[threading.Thread]:
    """The threads alive now: take it before the code under test runs, for ``started_since``."""
    return set(threading.enumerate())


def started_since(
    before: Collection[threading.Thread], *, ignoring: str = ""
) -> set[threading.Thread]:
    """The threads alive now that were not alive in ``before``.

    Only threads the test itself started can be in it: one that an earlier test
    left behind and that ends meanwhile changes nothing. Threads whose name
    starts with ``ignoring`` (when given) are left out.
    """
    return {
        thread
        for thread in threading.enumerate()
        if thread not in before and not (ignoring and thread.name.startswith(ignoring))
    }


def in_thread(target: Callable[[], object]) -> threading.Thread:
    """Start ``target`` on a daemon thread and return the thread."""
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def main_in_thread(argv: list[str], codes: list[int]) -> threading.Thread:
    """Run the command line ``main(argv)`` on a daemon thread; its exit code goes to ``codes``."""
    return in_thread(lambda: codes.append(main(argv)))
