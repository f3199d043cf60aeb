"""The cells of 03-replay.ipynb: ``notebooks/build.py`` builds the notebook and runs it."""

# %% [markdown]
# # Replaying a recorded config stream
#
# A *tape* is a recording of a config stream: a JSONL file whose first line is a header and
# whose every other line is one `ConfigChange`, stored as a delta from the one before. Replayed,
# a tape gives back the same changes with their original timing, on any reactivex scheduler.
# That makes a config incident something you can look at afterwards, and a stream you can feed
# to an operator to see how it would have behaved.
#
# The tape in `data/` was recorded from the demo, with
# `confighub demo --record notebooks/data/demo.tape.jsonl --pause 2`: an embedded server serves
# the example tracepoint file, a long-polling client keeps a hub current, and the demo edits the
# file every 2 seconds (a tracepoint added, one changed, one removed, an edit the server refuses),
# then adds a tracepoint from code and removes it again.

# %%
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
from matplotlib import pyplot as plt
from reactivex.scheduler import HistoricalScheduler

from confighub import ConfigChange, ConfigHub, TracePoint, config_hash
from confighub.notebook import plot_before_after, plot_timeline, to_dataframe
from confighub.operators import debounce_changes
from confighub.tapes import read_tape, record, replay

TAPE = Path("data/demo.tape.jsonl")
f"{TAPE}: {TAPE.stat().st_size:,} bytes"

# %% [markdown]
# ## The header
#
# `read_tape` checks the header at once and gives a `Tape`: its `header` says what was recorded,
# from where, by which version of confighub, and when the recording started (`started`, in ns
# since the epoch, the unit of `ConfigChange.ts`). Iterating the tape reads its changes lazily,
# one line at a time.

# %%
tape = read_tape(TAPE)
header = tape.header
print(header.source, "| confighub", header.confighub, "| tape version", header.version)
header.started_at

# %% [markdown]
# The first change starts from nothing and holds the whole config the demo served; it renders
# as a table, like any `ConfigChange`.

# %%
changes = list(tape)
print(len(changes), "changes")
changes[0]

# %% [markdown]
# ## Replay in virtual time
#
# `replay(path, scheduler)` is a cold stream that emits each change at its recorded distance
# from the tape's start, on the scheduler. A `HistoricalScheduler` is a virtual-time scheduler
# whose clock is a real date: started at the tape's start, its clock reads the recorded time
# of each change as it arrives, while the whole replay takes no real time at all.

# %%
scheduler = HistoricalScheduler(header.started_at)
arrivals: list[tuple[datetime, ConfigChange]] = []
replay(TAPE, scheduler).subscribe(lambda change: arrivals.append((scheduler.now, change)))
scheduler.start()

pd.DataFrame(
    {
        "arrived (virtual clock)": [at for at, _ in arrivals],
        "recorded ts": pd.to_datetime([change.ts for _, change in arrivals], unit="ns", utc=True),
    }
)

# %% [markdown]
# The virtual clock keeps microseconds, the tape nanoseconds, so each arrival is within a
# microsecond of its recorded time. And the replayed changes are exactly those of the tape:
# same timestamps, hashes and configs.

# %%
for at, change in arrivals:
    assert abs(pd.Timestamp(at) - pd.Timestamp(change.ts, unit="ns", tz="UTC")) < timedelta(
        microseconds=1
    )

replayed = [change for _, change in arrivals]
assert replayed == list(read_tape(TAPE))
print(f"{len(replayed)} changes replayed, equal to the tape's")

# %% [markdown]
# ## The tape as a DataFrame
#
# `to_dataframe` gives one row per change: its time, hashes, how many tracepoints it added,
# removed and changed, and how many were live after it.

# %%
events = to_dataframe(tape)
events["since start (s)"] = (events["ts"] - header.started) / 1e9
events[["time", "since start (s)", "added", "removed", "changed", "live"]]

# %% [markdown]
# With `per="tracepoint"` it gives one row per tracepoint a change touched instead, with the
# kind of change and where the tracepoint sits. The custom tracepoint the demo added from code
# has a UUID for an id.

# %%
touched = to_dataframe(tape, per="tracepoint")
touched[["time", "id", "change", "path", "line"]]

# %% [markdown]
# A few statistics: how many tracepoints were added, removed and changed over the whole tape;
# which tracepoints were touched most; and how long the config stayed unchanged between
# changes. Changes came about 2 s apart, as the demo paced its edits, except for one gap of
# about 6 s: it holds two edits that changed nothing, the bad edit the server refused and the
# fix that brought back the same config.

# %%
touched["change"].value_counts()

# %%
touched.groupby("id").size().sort_values(ascending=False).head(3)

# %%
events["time"].diff().dt.total_seconds().describe()[["count", "min", "50%", "max"]]

# %% [markdown]
# ## Which tracepoints were live when
#
# `plot_timeline` draws a row per tracepoint and a bar for each stretch of time it was live,
# with a mark where it was added, changed or removed. `until` extends the last bars past the
# last change.

# %%
ax = plt.figure(figsize=(10, 3.5), layout="constrained").add_subplot()
plot_timeline(tape, ax=ax, until=changes[-1].ts + 2_000_000_000)
plt.show()

# %% [markdown]
# The same question for one moment, answered from the changes: the config live at time `t` is
# the `new` config of the last change at or before `t`.


# %%
def live_at(changes: list[ConfigChange], t: pd.Timestamp) -> list[str]:
    """The ids of the tracepoints live at ``t``, from a list of changes in order."""
    ts = t.value  # ns since the epoch
    config: tuple[TracePoint, ...] = ()
    for change in changes:
        if change.ts > ts:
            break
        config = change.new
    return [tp.id for tp in config]


start = pd.Timestamp(header.started, unit="ns", tz="UTC")
for seconds in (1, 5, 13):
    t = start + pd.Timedelta(seconds=seconds)
    print(f"{t:%H:%M:%S} ({seconds:>2} s):", ", ".join(live_at(changes, t)))

assert len(live_at(changes, start + pd.Timedelta(seconds=7))) == events["live"].iloc[3]

# %% [markdown]
# ## How would a 5 s debounce have behaved?
#
# A replay is a stream like any other, so an operator can be tried on it. Here is
# `debounce_changes(5)` on the demo's changes, in virtual time. The first four changes come 2 s
# apart, so they form one burst, which comes out 5 s after its last change as one change: from
# nothing to the config after the fourth, six tracepoints added. The custom tracepoint added
# and removed 6 s later is a burst that ends where it began: it emits nothing. An observer
# behind this debounce would have seen one change instead of six.
#
# Without a scheduler of its own, `replay` runs on the one it is subscribed with: the
# `TestScheduler` that `plot_before_after` makes, counting seconds from the tape's start.

# %%
ax = plt.figure(figsize=(8, 1.8), layout="constrained").add_subplot()
plot_before_after(replay(TAPE), debounce_changes(5), ax=ax)
plt.show()

# %% [markdown]
# ## Recording your own tape
#
# `record(stream, path)` subscribes a `Recorder` that writes each change as it comes, flushed
# at once, until the stream ends or the recorder is closed. Recording
# `hub.changes_with_current()` starts the tape with the hub's config at that moment, so the tape
# replays from a full config. Here a hub is fed by hand with a fixed clock (as in the first
# notebook), into a temporary folder, so the cell runs anywhere and gives the same tape every
# time. In an application, leave out `started` and the clock.

# %%
T0 = 1_800_000_000_000_000_000  # 2027-01-15 08:00:00 UTC, in ns
SECOND = 1_000_000_000
checkout = TracePoint("checkout", "shop/checkout.py", 42)
cart = TracePoint("cart", "shop/cart.py", 17, {"log_msg": "added {item}"})


def poll(hub: ConfigHub, at: int, *config: TracePoint) -> None:
    """Apply ``config`` to ``hub`` as a poll ``at`` seconds after T0 would."""
    hub.update_new_config(T0 + at * SECOND, config_hash(config), config)


with tempfile.TemporaryDirectory() as folder, ConfigHub(clock=lambda: T0) as hub:
    path = Path(folder) / "mine.tape.jsonl"
    poll(hub, 0, checkout)
    recorder = record(hub.changes_with_current(), path, source="notebook", started=T0)
    poll(hub, 3, checkout, cart)
    poll(hub, 4, cart)
    recorder.close()
    print(path.read_text(encoding="utf-8"))

    started = read_tape(path).header.started_at
    clock = HistoricalScheduler(started)
    seconds: list[float] = []
    replay(path, clock).subscribe(lambda _: seconds.append((clock.now - started).total_seconds()))
    clock.start()

assert seconds == [0, 3, 4]
seconds
