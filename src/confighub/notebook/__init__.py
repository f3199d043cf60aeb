"""Looking at config changes in a notebook: dataframes, timelines, before/after strips.

::

    from confighub.notebook import plot_before_after, plot_timeline, to_dataframe
    from confighub.tapes import read_tape

    to_dataframe(read_tape("today.tape.jsonl"))          # one row per change
    plot_timeline(read_tape("today.tape.jsonl"))         # which tracepoints were live when
    plot_before_after(source, debounce_changes(3))       # what an operator does, in virtual time

These need the ``notebooks`` extra (pandas, matplotlib), imported only when a
frame is built or a plot drawn. ``ConfigChange`` and ``ConfigDiff`` render as
HTML tables on their own (``confighub.events``).
"""

from confighub.notebook._frames import to_dataframe
from confighub.notebook._plots import (
    plot_before_after,
    plot_strip,
    plot_timeline,
    record_before_after,
)

__all__ = [
    "plot_before_after",
    "plot_strip",
    "plot_timeline",
    "record_before_after",
    "to_dataframe",
]
