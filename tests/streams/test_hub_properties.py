"""Properties of ConfigHub over random sequences of updates and custom tracepoints."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from confighub import ConfigChange, ConfigHub, TracePoint, config_hash

POOL = [
    (),
    (TracePoint("a", "a.py", 1),),
    (TracePoint("a", "a.py", 1), TracePoint("b", "b.py", 2)),
    (TracePoint("a", "a.py", 1, {"fire_count": "-1"}),),
]

operations = st.lists(
    st.one_of(
        st.tuples(st.just("serve"), st.integers(0, len(POOL) - 1)),
        st.tuples(st.just("no_change"), st.just(0)),
        st.tuples(st.just("add"), st.integers(1, 50)),
        st.tuples(st.just("remove"), st.integers(0, 5)),
    ),
    max_size=40,
)


@given(operations)
def test_any_sequence_keeps_the_chain_and_the_effective_config(ops: list[tuple[str, int]]) -> None:
    """Whatever the updates, events chain, none repeats a hash, the last is the current state."""
    hub = ConfigHub()
    seen: list[ConfigChange] = []
    hub.changes.subscribe(seen.append)
    with_current: list[ConfigChange] = []
    hub.changes_with_current().subscribe(with_current.append)
    server: tuple[TracePoint, ...] = ()
    custom: list[str] = []
    for ts, (op, arg) in enumerate(ops, start=1):
        before = hub.current_hash
        count = len(seen)
        if op == "serve":
            hub.update_new_config(ts, config_hash(POOL[arg]), POOL[arg])
            server = POOL[arg] if hub.server_hash == config_hash(POOL[arg]) else server
        elif op == "no_change":
            hub.update_no_change(ts)
        elif op == "add":
            custom.append(hub.add_custom("custom.py", arg))
        elif custom:
            assert hub.remove_custom(custom.pop(arg % len(custom)))
        assert len(seen) == count + (hub.current_hash != before)
        assert [getattr(i, "id", None) for i in hub.current_config] == [
            *(tp.id for tp in server),
            *custom,
        ]
    for a, b in itertools.pairwise(seen):
        assert (b.old_hash, b.old) == (a.new_hash, a.new)
        assert b.new_hash != b.old_hash
    if seen:
        assert (seen[-1].new_hash, seen[-1].new) == (hub.current_hash, hub.current_config)
        assert with_current[1:] == seen
    if not custom:
        assert hub.current_hash == hub.server_hash
