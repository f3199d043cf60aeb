"""The cells of 02-operators.ipynb: ``notebooks/build.py`` builds the notebook and runs it."""

# %% [markdown]
# # Operators on config changes, in virtual time
#
# `confighub.operators` holds reactivex operators made for streams of `ConfigChange`. Those
# that emit changes keep the chain intact: each change they emit starts where the previous one
# ended, which a plain rx operator such as `ops.debounce` does not. This notebook runs each
# operator on a small made-up stream and draws it as a strip: the changes going in on the top
# row, the changes coming out below, each labelled with how many tracepoints it added, removed
# and changed (`+1 -0 ~2`).
#
# Nothing here waits for real time. The streams run on a reactivex `TestScheduler`, whose clock
# jumps from one scheduled event to the next, so a minute of changes plays in a moment and
# gives the same result on every run. This is also how to test code built on these operators.

# %%
from collections.abc import Callable
from typing import Any

import pandas as pd
import reactivex
from matplotlib import pyplot as plt
from matplotlib.axes import Axes
from reactivex import Observable
from reactivex.testing import TestScheduler

from confighub import ConfigChange, TracePoint
from confighub.notebook import plot_before_after, plot_strip, record_before_after
from confighub.operators import (
    added,
    changed,
    conflate,
    debounce_changes,
    diffs,
    distinct_config,
    only_paths,
    removed,
)
from confighub.virtual import changes_from_marbles, run_virtual

reactivex.__version__

# %% [markdown]
# ## The configs
#
# Four tracepoints of a shop app, and five configs made of them, each named by a letter. In the
# marble strings below, a letter is the moment a source publishes that config. `arrow` names a
# change by its configs, `∅` standing for "no config yet".

# %%
checkout = TracePoint("checkout", "shop/checkout.py", 42)
checkout_5 = TracePoint("checkout", "shop/checkout.py", 42, {"fire_count": "5"})
cart = TracePoint("cart", "shop/cart.py", 17)
pay = TracePoint("pay", "shop/payments.py", 120)

configs = {
    "a": (checkout,),
    "b": (checkout, cart),
    "c": (checkout_5, cart),
    "d": (checkout_5, cart, pay),
    "e": (checkout_5, pay),
}
letters = {config: letter for letter, config in configs.items()}


def arrow(change: ConfigChange) -> str:
    """A change named by its configs' letters, such as ``a→c``."""
    return f"{letters.get(change.old, '∅')}→{letters.get(change.new, '?')}"


def label(tp: TracePoint) -> str:
    """A tracepoint's id, and its args when it has any."""
    return f"{tp.id} {dict(tp.args)}" if tp.args else tp.id


for letter, config in configs.items():
    print(letter, ", ".join(label(tp) for tp in config))

# %% [markdown]
# ## A stream from a marble string
#
# `changes_from_marbles` turns a marble string into a cold stream of changes. Each character
# is one second of virtual time: `-` is nothing, a letter publishes that config, `|` completes
# the stream. Each config becomes a change from the one before it.
#
# `run_virtual` subscribes on a `TestScheduler`, runs it until nothing is left to do, and
# returns a `VirtualRun`: the events with their times in seconds, and when the stream ended.
# `plot_strip` draws recordings one row each.

# %%
source = changes_from_marbles("-a-b-c------d-c------|", configs)
recording = run_virtual(source, TestScheduler())
print([(at, arrow(change)) for at, change in recording.events], "|", recording.completed)


def small_axes(height: float = 1.8) -> Axes:
    """The axes of a small figure: the notebook stays light."""
    return plt.figure(figsize=(8, height), layout="constrained").add_subplot()


plot_strip({"changes": recording}, ax=small_axes(1.2))
plt.show()

# %% [markdown]
# ## `debounce_changes`: one change per burst
#
# ```
# changes:  -a-b-c------d-c------|
# debounce_changes(3)
# result:   --------x------------|    x = ∅→c
# ```
#
# Changes less than 3 s apart form a burst, and a burst becomes one change, emitted 3 s after
# its last event, from the burst's first `old` to its last `new`. So the observer sees the
# config once it has settled, and the change it gets still starts where the previous one
# ended. The second burst goes from `c` to `d` and back to `c`: it ends where it began, so it
# emits nothing. One timer runs per burst, not one per event.
#
# `plot_before_after(source, operator)` runs both streams on a fresh `TestScheduler` and
# draws them.

# %%
plot_before_after(source, debounce_changes(3), ax=small_axes())
plt.show()

# %% [markdown]
# The strip is drawn from two `VirtualRun`s. `record_before_after` returns them, for when you
# want the data rather than the picture, as in a test.

# %%
before, after = record_before_after(source, debounce_changes(3))

assert [arrow(change) for change in after.values] == ["∅→c"]
assert after.values[0].ts == before.values[2].ts  # the ts of the burst's last change

pd.DataFrame(
    [
        {
            "stream": stream,
            "at (s)": at,
            "change": arrow(change),
            "added": len(change.diff.added),
            "changed": len(change.diff.changed),
            "removed": len(change.diff.removed),
        }
        for stream, recorded in (("in", before), ("debounce_changes(3)", after))
        for at, change in recorded.events
    ]
)

# %% [markdown]
# ## `only_paths`: the changes that touch some files, narrowed to them
#
# ```
# changes:  -a-b-c-d-e-|
# only_paths("shop/checkout*")
# result:   -a'--c'----|    a' and c' hold only the checkout tracepoint
# ```
#
# Only `a` (which adds the checkout tracepoint) and `c` (which edits it) touch
# `shop/checkout.py`; the others add or remove `cart` and `pay`. Each change kept is narrowed
# to the matching tracepoints, with the hashes of those narrowed configs, so the chain holds
# within the narrowed view as well. Globs follow `fnmatch`; `touching(predicate)` does the same
# with any test on a tracepoint.

# %%
source = changes_from_marbles("-a-b-c-d-e-|", configs)
before, after = record_before_after(source, only_paths("shop/checkout*"))

assert [change.new for change in after.values] == [(checkout,), (checkout_5,)]
plot_before_after(source, only_paths("shop/checkout*"), ax=small_axes())
plt.show()

# %% [markdown]
# ## `conflate`: latest-only delivery for a slow observer
#
# ```
# changes:  -a---(b,c,d)---e--|
# conflate(scheduler)
# result:   -a---x---------e--|    x = a→d
# ```
#
# `conflate` hands changes to the observer on a scheduler of its own, so the publisher (the
# poller) never waits for a slow observer. While the observer is busy, the changes waiting for
# it merge into one, as in a debounce: memory stays flat however far behind it falls, the chain
# holds, and the observer ends on the latest config.
#
# In virtual time, "busy" is the rest of the current instant. The group `(b,c,d)` publishes
# three changes at the same moment, 5 s (three markers on one spot in the top row, their diffs
# stacked in one label), before the
# scheduler gets to deliver any of them, so the observer gets one change, from `a` to `d`.
#
# In reactivex's marble syntax the members of a group are separated by commas: `(bcd)` would
# be one value named "bcd", which `changes_from_marbles` refuses (no config has that name). A
# group takes as many seconds as it has characters, which is why
# `e` comes at 15 s.

# %%
scheduler = TestScheduler()
source = changes_from_marbles("-a---(b,c,d)---e--|", configs)
plot_before_after(source, conflate(scheduler), scheduler=scheduler, ax=small_axes())
plt.show()

# %% [markdown]
# ## `distinct_config`: one stream from several sources
#
# ```
# primary:  -a---b---c----|
# replica:  ---a---b---c--|
# merged:   -a-a-b-b-c-c--|
# distinct_config()
# result:   -a---b---c----|
# ```
#
# Two sources serve the same config, one 2 s behind the other. Merged, every change arrives
# twice. `distinct_config` drops a change that leads to the config it emitted last. A change it
# keeps is rewritten to start from that config, if it did not already, so the chain holds over
# the merged stream too.

# %%
primary = changes_from_marbles("-a---b---c----|", configs)
replica = changes_from_marbles("---a---b---c--|", configs)
merged = reactivex.merge(primary, replica)
before, after = record_before_after(merged, distinct_config())

assert [arrow(change) for change in after.values] == ["∅→a", "a→b", "b→c"]
plot_before_after(merged, distinct_config(), ax=small_axes())
plt.show()

# %% [markdown]
# ## `diffs`, `added`, `removed` and `changed`: what moved, one event each
#
# ```
# changes:    -a-b-c-d-e-|
# added():    -x-y---z---|    x = checkout, y = cart, z = pay
# removed():  ---------w-|    w = cart
# changed():  -----v-----|    v = (checkout, checkout with fire_count 5)
# ```
#
# These leave the world of changes: `diffs()` gives each change's `ConfigDiff`, and `added()`,
# `removed()` and `changed()` give one event per tracepoint (a `(before, after)` pair for
# `changed`). They suit observers that act per tracepoint, such as one that installs a probe for
# each tracepoint added. Their output is not a change stream, so a table shows it here.

# %%
source = changes_from_marbles("-a-b-c-d-e-|", configs)


def events(operator: Callable[[Observable[ConfigChange]], Observable[Any]]) -> list[Any]:
    """The timed events of ``source`` piped through ``operator``, in virtual time."""
    return run_virtual(source.pipe(operator), TestScheduler()).events


rows = [("added()", at, label(tp)) for at, tp in events(added())]
rows += [("removed()", at, label(tp)) for at, tp in events(removed())]
rows += [("changed()", at, f"{label(old)} → {label(new)}") for at, (old, new) in events(changed())]
pd.DataFrame(rows, columns=["operator", "at (s)", "tracepoint"])

# %% [markdown]
# `diffs()` turns each change into its `ConfigDiff`, which renders as a table. The third one is
# `c`'s: the checkout tracepoint, edited in place.

# %%
recorded = run_virtual(source.pipe(diffs()), TestScheduler())
assert [at for at, _ in recorded.events] == [1.0, 3.0, 5.0, 7.0, 9.0]
recorded.values[2]
