"""Record a config stream to a tape, replay it in virtual or real time, and look at it.

::

    from confighub.recording import record, replay, read_tape, to_dataframe

    recorder = record(hub.changes_with_current(), "today.tape.jsonl")   # …then close()
    replay("today.tape.jsonl", scheduler=TestScheduler())               # hours in milliseconds
    to_dataframe(read_tape("today.tape.jsonl"))                         # one row per change

A tape is a JSONL file: a versioned header line, then one change per line,
stored as a delta from the one before (see ``confighub.recording._tape``).
The dataframe and plot functions need the ``notebooks`` extra (pandas,
matplotlib); the rest needs nothing more than confighub.
"""

from confighub._virtual import Recording, changes_from_marbles, run_virtual
from confighub.exceptions import TapeError
from confighub.recording._frames import to_dataframe
from confighub.recording._plots import (
    plot_before_after,
    plot_strip,
    plot_timeline,
    record_before_after,
)
from confighub.recording._recorder import Recorder, record
from confighub.recording._replay import Tape, read_tape, replay
from confighub.recording._tape import FORMAT, VERSION, TapeHeader

__all__ = [
    "FORMAT",
    "VERSION",
    "Recorder",
    "Recording",
    "Tape",
    "TapeError",
    "TapeHeader",
    "changes_from_marbles",
    "plot_before_after",
    "plot_strip",
    "plot_timeline",
    "read_tape",
    "record",
    "record_before_after",
    "replay",
    "run_virtual",
    "to_dataframe",
]
