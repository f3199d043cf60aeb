"""Tapes: record a config stream to a file, and replay it in virtual or real time.

::

    from confighub.tapes import read_tape, record, replay

    recorder = record(hub.changes_with_current(), "today.tape.jsonl")   # …then close()
    replay("today.tape.jsonl", scheduler=TestScheduler())               # hours in milliseconds
    [change.new_hash for change in read_tape("today.tape.jsonl")]       # no timing

A tape is a JSONL file: a versioned header line, then one change per line,
stored as a delta from the one before (see ``confighub.tapes._format``).
``confighub.notebook`` turns what a tape holds into dataframes and plots.
"""

from confighub.exceptions import TapeError
from confighub.tapes._format import FORMAT, VERSION, TapeHeader
from confighub.tapes._recorder import Recorder, record
from confighub.tapes._replay import Tape, read_tape, replay

__all__ = [
    "FORMAT",
    "VERSION",
    "Recorder",
    "Tape",
    "TapeError",
    "TapeHeader",
    "read_tape",
    "record",
    "replay",
]
