"""What the frame and plot functions accept, and how they ask for the ``notebooks`` extra."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeAlias

from confighub.events import ConfigChange
from confighub.virtual import VirtualRun

__all__ = ["Changes", "changes_of", "needs_extra"]

#: Changes (a list, a tape, …) or a ``VirtualRun``.
Changes: TypeAlias = Iterable[ConfigChange] | VirtualRun[ConfigChange]


@contextmanager
def needs_extra(function: str, package: str) -> Iterator[None]:
    """Turn a missing ``package`` of the notebooks extra into an ImportError saying how to add it.

    >>> with needs_extra("to_dataframe", "pandas"):
    ...     import pandas as pd
    """
    try:
        yield
    except ModuleNotFoundError as error:
        # Only the package itself: a broken install of one of its dependencies keeps its own error.
        if error.name != package:
            raise
        raise ImportError(
            f"{function} needs {package}: pip install 'confighub[notebooks]'"
        ) from error


def changes_of(events: Changes) -> list[ConfigChange]:
    """The changes in ``events``: a ``VirtualRun``'s values, or the iterable read into a list."""
    if isinstance(events, VirtualRun):
        return list(events.values)
    return list(events)
