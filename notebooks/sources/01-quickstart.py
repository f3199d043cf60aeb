"""The cells of 01-quickstart.ipynb: ``notebooks/build.py`` builds the notebook and runs it."""

# %% [markdown]
# # confighub quick start: the hub, observers and diffs
#
# A Deep agent places tracepoints (snapshots, logs, metrics, spans) on lines of a running
# program, and a server changes them at run time. `ConfigHub` holds the current set of
# tracepoints and publishes every change to it as a
# `ConfigChange(ts, old_hash, new_hash, old, new)` on a reactivex stream, so code in the same
# process can react.
#
# This notebook feeds a hub by hand, the way a poller would, and looks at what comes out: the
# changes and their diffs, the current config for late subscribers, tracepoints added from
# code, and what happens when an observer fails.

# %%
import dataclasses
import itertools
import logging

import confighub
from confighub import (
    ConfigChange,
    ConfigHub,
    ObserverError,
    TracePoint,
    config_hash,
    load_tracepoints,
)
from confighub.files import example_path

confighub.__version__

# %% [markdown]
# ## Tracepoints
#
# A `TracePoint` is an immutable value: an id, a file and line, and Deep's string-valued
# `args` (a condition, a log message, how often it may fire, ...). Properties read the
# well-known args with their defaults, and `actions` says what the agent does when the
# tracepoint fires.

# %%
checkout = TracePoint(
    "checkout-total", "shop/checkout.py", 42, {"condition": "total > 100", "fire_count": "-1"}
)
cart_log = TracePoint(
    "cart-add", "shop/cart.py", 17, {"log_msg": "added {item}", "snapshot": "no_collect"}
)
payment = TracePoint("payment-span", "shop/payments.py", 30, {"span": "method"})

for tp in (checkout, cart_log, payment):
    actions = ", ".join(sorted(tp.actions))
    where = f"{tp.path}:{tp.line}"
    print(f"{tp.id:<15} {where:<20} fire_count={tp.fire_count:<3} actions: {actions}")

# %% [markdown]
# ## A hub with a clock of our own
#
# A poll brings its own timestamp (`ts`, nanoseconds since the epoch, the unit of the Deep
# protocol); the hub's `clock` stamps everything else, such as tracepoints added from code.
# Here the clock moves only when we move it, so this page shows the same times on every run.
# Real code leaves `clock` out: it defaults to `time.time_ns`.


# %%
class Clock:
    """Wall-clock time in ns since the epoch that moves only when it is set."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        """The time now."""
        return self.now


T0 = 1_800_000_000_000_000_000  # 2027-01-15 08:00:00 UTC
SECOND = 1_000_000_000
clock = Clock(T0)
hub = ConfigHub(clock=clock)
hub

# %% [markdown]
# ## Observers
#
# `hub.changes` is a hot reactivex `Observable`: a subscriber sees every change published
# after it subscribed, once, in order. An observer is any function of one change (or a
# reactivex observer). `describe` prints when a change happened and where the tracepoints it
# added (`+`), removed (`-`) or changed (`~`) sit; `seen` keeps every change for later.
#
# `poll` stands in for a source: like the gRPC poller, it hands the hub a timestamp, the
# config's hash and the config with `update_new_config`.


# %%
def describe(change: ConfigChange) -> None:
    """Print when ``change`` happened and where the tracepoints it touched sit."""
    diff = change.diff
    parts = [f"t={(change.ts - T0) / SECOND:g}s"]
    parts += [f"+{tp.path}:{tp.line}" for tp in diff.added.values()]
    parts += [f"-{tp.path}:{tp.line}" for tp in diff.removed.values()]
    parts += [f"~{after.path}:{after.line}" for _, after in diff.changed.values()]
    print("  ".join(parts))


def poll(at: float, *config: TracePoint) -> None:
    """Apply ``config`` as a poll at ``at`` seconds after T0 would."""
    clock.now = T0 + round(at * SECOND)
    hub.update_new_config(clock.now, config_hash(config), config)


seen: list[ConfigChange] = []
hub.changes.subscribe(describe)
hub.changes.subscribe(seen.append)

poll(0, checkout)

# %% [markdown]
# Three more polls. The first adds two tracepoints. The second edits the checkout tracepoint in
# place: same id, stricter condition, so the diff calls it *changed*, not removed and added. The
# third brings the config the hub already has: an equal hash publishes nothing and counts as a
# heartbeat (`hub.heartbeats` has the time of every poll applied).

# %%
stricter = dataclasses.replace(checkout, args={"condition": "total > 250", "fire_count": "-1"})
beats: list[int] = []
hub.heartbeats.subscribe(beats.append)

poll(10, checkout, cart_log, payment)
poll(20, stricter, cart_log, payment)
poll(30, stricter, cart_log, payment)
print(f"{len(beats)} polls, {len(seen)} changes in all")

# %% [markdown]
# ## A change, as a table
#
# In a notebook a `ConfigChange` renders as a table: when it happened, its hashes (shortened),
# how many tracepoints it added, removed and changed, and a row for each, with what it does.
# For a changed tracepoint the details list each field that moved.

# %%
seen[-1]

# %% [markdown]
# A change is a named tuple, so it unpacks; `old` and `new` are whole configs (tuples of
# tracepoints). Its `.diff` keys what moved by tracepoint id: `added`, `removed`, and
# `changed` as `(before, after)` pairs. A diff renders as a table too.

# %%
ts, old_hash, new_hash, old, new = seen[-1]
before, after = seen[-1].diff.changed["checkout-total"]
print(f"{len(old)} → {len(new)} tracepoints; condition {before.condition!r} → {after.condition!r}")
seen[-1].diff

# %% [markdown]
# Each change starts where the one before it ended: its `old` and `old_hash` are the previous
# change's `new` and `new_hash`. Observers can count on this *chain invariant*, and the
# operators of the next notebook keep it. The first change starts from nothing (`None`).

# %%
for earlier, later in itertools.pairwise(seen):
    assert (later.old, later.old_hash) == (earlier.new, earlier.new_hash)

[(change.old_hash and change.old_hash[:8], change.new_hash[:8]) for change in seen]

# %% [markdown]
# ## Late subscribers: `changes_with_current()`
#
# A subscriber that arrives after the first poll has missed the config so far. Subscribed to
# `changes_with_current()` instead, it first gets the current config as a change from nothing,
# then every later change, with no gap and no duplicate between the two.

# %%
late: list[ConfigChange] = []
hub.changes_with_current().subscribe(late.append)

assert late[0].old_hash is None
assert (late[0].new_hash, late[0].new) == (hub.current_hash, hub.current_config)
late[0]

# %% [markdown]
# ## Tracepoints from code
#
# `add_custom` adds a tracepoint from code. It joins the server's config in the *effective*
# config, which is what the hub publishes and hashes, and it gets a fresh UUID as its id,
# which `remove_custom` takes back. (The id and the hash are new on every run, so this page
# prints where the tracepoint sits rather than either of them.)

# %%
clock.now = T0 + 35 * SECOND
custom_id = hub.add_custom("shop/payments.py", 77, {"condition": "amount > 1000"})

assert hub.current_hash != hub.server_hash  # the effective hash covers the custom tracepoint
[f"{tp.path}:{tp.line}" for tp in hub.current_config]

# %% [markdown]
# Removing it brings back the server's config, and with it the server's hash. A late
# subscriber saw both changes, like everyone else.

# %%
clock.now = T0 + 38 * SECOND
assert hub.remove_custom(custom_id)

assert hub.current_hash == hub.server_hash
print(len(late), "changes seen by the late subscriber")

# %% [markdown]
# ## An observer that fails
#
# An observer that raises stops neither the other observers nor the source that called
# `update_new_config`. The hub reports it on its `errors` stream, as
# `ObserverError(observer, error, event)`, and logs it with its traceback on the `confighub`
# logger. The logger gets a do-nothing handler here to keep the traceback off this page; in an
# application, leave that to your logging configuration.

# %%
logging.getLogger("confighub").addHandler(logging.NullHandler())


def fragile(change: ConfigChange) -> None:
    """An observer with a bug: it expects every config to hold a span tracepoint."""
    if not any(tp.span for tp in change.new):
        raise LookupError("no span tracepoint in the config")


def report(error: ObserverError) -> None:
    """Print which observer failed, with what, on which change."""
    name = getattr(error.observer, "__name__", error.observer)
    print(f"{name} raised {error.error!r} on the change to {error.event.new_hash[:8]}")


after_fragile: list[ConfigChange] = []
hub.errors.subscribe(report)
hub.changes.subscribe(fragile)
hub.changes.subscribe(after_fragile.append)  # subscribed after the failing observer

poll(40, stricter, cart_log)  # the span tracepoint goes: fragile raises, the poll goes on

assert len(after_fragile) == 1
assert hub.current_config == (stricter, cart_log)

# %% [markdown]
# ## Tracepoints from a file
#
# `load_tracepoints` reads the YAML (or JSON) format that `confighub serve` and `FileSource`
# read; confighub ships an example for a small shop app. A bad entry raises an error naming
# the file, the line and the field. Applying the file is one more poll.

# %%
example = load_tracepoints(example_path())
print(f"{example_path().name}: {len(example)} tracepoints")

poll(50, *example)

# %%
seen[-1].diff

# %% [markdown]
# Closing the hub completes every stream, and later updates raise `HubClosed`. A hub is also
# a context manager: `with ConfigHub() as hub: ...` closes it at the end of the block.

# %%
hub.close()
hub
