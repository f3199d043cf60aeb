"""The operators in virtual time: marbles in, changes out, compared by hashes and diffs."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest
import reactivex
from hypothesis import given
from hypothesis import strategies as st
from reactivex import operators as ops
from reactivex.testing import TestScheduler

from confighub import ConfigChange, ConfigHub, TracePoint, config_hash
from confighub.operators import (
    Freshness,
    added,
    changed,
    conflate,
    debounce_changes,
    diffs,
    distinct_config,
    only_paths,
    removed,
    stale_after,
    touching,
)
from confighub.testing import assert_chain, assert_changes
from confighub.virtual import changes_from_marbles, expected_changes, feed_hub, run_virtual
from tests.support.chains import size

CHECKOUT = TracePoint("checkout", "shop/checkout.py", 42)
CHECKOUT_LOG = TracePoint("checkout", "shop/checkout.py", 42, {"log_msg": "total {total}"})
CART = TracePoint("cart", "shop/cart.py", 17)
CART_2 = TracePoint("cart", "shop/cart.py", 18)
PAY = TracePoint("pay", "shop/payments.py", 30)

CONFIGS: dict[str, tuple[TracePoint, ...]] = {
    "a": (CHECKOUT,),
    "b": (CHECKOUT, CART),
    "c": (CHECKOUT_LOG, CART),
    "d": (CHECKOUT_LOG, CART_2, PAY),
    "e": (),
}
A, B, C, D, E = (CONFIGS[name] for name in "abcde")


def source(marbles: str, scheduler: TestScheduler) -> reactivex.Observable[ConfigChange]:
    return changes_from_marbles(marbles, CONFIGS, scheduler=scheduler)


# -- debounce_changes ----------------------------------------------------------------------


def test_debounce_turns_a_burst_into_one_change_from_its_first_old_to_its_last_new(
    virtual_scheduler: TestScheduler,
) -> None:
    """A burst becomes one change a→c at last event + duetime; a later lone event passes."""
    out = run_virtual(
        source("-a-b-c--------d------|", virtual_scheduler).pipe(debounce_changes(3)),
        virtual_scheduler,
    )
    assert_changes(out, expected_changes("--------x--------y----", {"x": ((), C), "y": (C, D)}))
    assert out.completed == 21.0
    assert out.values[0].old_hash is None
    assert_chain(out)


def test_debounce_emits_nothing_for_a_burst_that_ends_where_it_began(
    virtual_scheduler: TestScheduler,
) -> None:
    """a, then a burst b→a: the second burst changed nothing, so only a is emitted."""
    out = run_virtual(
        source("-a-------b-a-------|", virtual_scheduler).pipe(debounce_changes(3)),
        virtual_scheduler,
    )
    assert_changes(out, expected_changes("----x", {"x": ((), A)}))


def test_debounce_flushes_a_pending_burst_on_completion_and_on_error(
    virtual_scheduler: TestScheduler,
) -> None:
    """The final state is never lost: completion or error first emits the pending burst."""
    done = run_virtual(
        source("-a-b|", virtual_scheduler).pipe(debounce_changes(10)), virtual_scheduler
    )
    assert_changes(done, expected_changes("----x", {"x": ((), B)}))
    assert done.completed == 4.0

    other = TestScheduler()
    failed = run_virtual(
        source("-a-b#", other).pipe(debounce_changes(timedelta(seconds=10))), other
    )
    assert [c.new_hash for c in failed.values] == [config_hash(B)]
    assert failed.error is not None


def test_debounce_uses_the_subscribe_scheduler_when_given_none(
    virtual_scheduler: TestScheduler,
) -> None:
    """Without scheduler=, the operator runs on the scheduler passed to subscribe."""
    out = run_virtual(
        source("-a-b---------|", virtual_scheduler).pipe(debounce_changes(2)), virtual_scheduler
    )
    assert [time for time, _ in out.events] == [5.0]


@given(
    st.lists(
        st.tuples(st.sampled_from("abcde"), st.integers(min_value=1, max_value=6)),
        min_size=1,
        max_size=30,
    ),
    st.integers(min_value=1, max_value=5),
)
def test_debounce_keeps_the_chain_and_ends_on_the_final_config(
    steps: list[tuple[str, int]], duetime: int
) -> None:
    """For any timing of any configs, the output chains and ends where the input ends."""
    scheduler = TestScheduler()
    marbles = "".join("-" * gap + name for name, gap in steps) + "|"
    plain = TestScheduler()
    inputs = run_virtual(source(marbles, plain), plain)
    out = run_virtual(source(marbles, scheduler).pipe(debounce_changes(duetime)), scheduler)
    assert_chain(out)
    final = inputs.values[-1].new_hash if inputs.values else None
    assert (out.values[-1].new_hash if out.values else None) == final
    assert len(out.values) <= len(inputs.values)


@pytest.mark.parametrize(
    ("duetime", "error"),
    [(-1, ValueError), (math.nan, ValueError), ("1", TypeError), (True, TypeError)],
)
def test_debounce_rejects_a_bad_duetime_naming_it(duetime: Any, error: type[Exception]) -> None:
    """A negative, NaN or non-numeric duetime fails when the operator is made."""
    with pytest.raises(error, match="debounce_changes: duetime"):
        debounce_changes(duetime)


# -- only_paths, touching ------------------------------------------------------------------


def test_only_paths_keeps_touching_changes_narrowed_to_matching_tracepoints(
    virtual_scheduler: TestScheduler,
) -> None:
    """Changes to cart.py only are dropped; the rest are narrowed to checkout.py."""
    out = run_virtual(
        source("-a-b-c-d|", virtual_scheduler).pipe(only_paths("shop/checkout*")),
        virtual_scheduler,
    )
    view = {"a": (CHECKOUT,), "c": (CHECKOUT_LOG,)}
    assert_changes(out, expected_changes("-x---y", {"x": ((), view["a"]), "y": (A, view["c"])}))
    assert [c.new for c in out.values] == [(CHECKOUT,), (CHECKOUT_LOG,)]
    assert out.values[1].new_hash == config_hash((CHECKOUT_LOG,))
    assert_chain(out)


def test_only_paths_drops_a_first_change_with_nothing_matching(
    virtual_scheduler: TestScheduler,
) -> None:
    """A first config with no matching tracepoint touches nothing; the later addition shows."""
    out = run_virtual(
        source("-a-b-d|", virtual_scheduler).pipe(only_paths("*payments.py", "nothing/*")),
        virtual_scheduler,
    )
    assert [(c.old_hash, c.new) for c in out.values] == [(config_hash(()), (PAY,))]


def test_only_paths_ignores_items_without_a_path(virtual_scheduler: TestScheduler) -> None:
    """Opaque items without ``path`` never match; items with one are narrowed as usual."""

    class Trigger:
        def __init__(self, id: str) -> None:
            self.id = id

        def __repr__(self) -> str:
            return f"Trigger({self.id})"

    configs = {"a": (Trigger("x"),), "b": (Trigger("x"), CART)}
    out = run_virtual(
        changes_from_marbles("-a-b|", configs, scheduler=virtual_scheduler).pipe(
            only_paths("shop/*")
        ),
        virtual_scheduler,
    )
    assert [c.new for c in out.values] == [(CART,)]


def test_touching_narrows_with_a_predicate(virtual_scheduler: TestScheduler) -> None:
    """Only the change that gives a tracepoint a log message touches the logging view."""
    out = run_virtual(
        source("-a-b-c-d|", virtual_scheduler).pipe(touching(lambda tp: "log_msg" in tp.args)),
        virtual_scheduler,
    )
    # The first config had an empty view: the view's first change starts from that.
    assert [(c.old_hash, c.new) for c in out.values] == [(config_hash(()), (CHECKOUT_LOG,))]
    assert [time for time, _ in out.events] == [5.0]


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (only_paths, ValueError, "at least one glob"),
        (lambda: only_paths("shop/*", 3), TypeError, "each glob"),  # type: ignore[arg-type]
        (lambda: only_paths(""), TypeError, "each glob"),
        (lambda: touching("shop/*"), TypeError, "predicate must be callable"),  # type: ignore[arg-type]
    ],
)
def test_filters_reject_bad_arguments_naming_them(
    make: Any, error: type[Exception], message: str
) -> None:
    """An empty glob list, a non-str glob or a non-callable predicate fails at pipe time."""
    with pytest.raises(error, match=message):
        make()


# -- diffs, added, removed, changed, distinct_config ---------------------------------------


def test_diffs_and_item_streams_emit_one_event_per_item(virtual_scheduler: TestScheduler) -> None:
    """`diffs` gives each change's diff; added/removed/changed give one event per tracepoint."""

    def run(operator: Any) -> list[Any]:
        events = run_virtual(source("-a-b-c-d-e|", virtual_scheduler).pipe(operator), scheduler)
        return [value for _, value in events.events]

    scheduler = virtual_scheduler
    assert [sorted(d.touched) for d in run(diffs())] == [
        ["checkout"],
        ["cart"],
        ["checkout"],
        ["cart", "pay"],
        ["cart", "checkout", "pay"],
    ]
    assert run(added()) == [CHECKOUT, CART, PAY]
    assert run(removed()) == [CHECKOUT_LOG, CART_2, PAY]
    assert run(changed()) == [(CHECKOUT, CHECKOUT_LOG), (CART, CART_2)]


def test_distinct_config_drops_repeats_and_keeps_the_chain() -> None:
    """A change to the config last emitted is dropped; the next one starts from it."""
    a, b, c = (ConfigChange(0, None, config_hash(x), (), x) for x in (A, B, C))
    stream = [a, a, ConfigChange(1, a.new_hash, b.new_hash, A, B), b, c]
    out: list[ConfigChange] = []
    reactivex.from_iterable(stream).pipe(distinct_config()).subscribe(out.append)
    assert [x.new_hash for x in out] == [a.new_hash, b.new_hash, c.new_hash]
    assert_chain(out)


# -- conflate ------------------------------------------------------------------------------


def test_conflate_coalesces_what_waits_and_ends_on_the_final_state(
    virtual_scheduler: TestScheduler,
) -> None:
    """Events that arrive before delivery runs become one change; completion comes last."""
    out = run_virtual(
        source("-(a,b,c)--d|", virtual_scheduler).pipe(conflate(virtual_scheduler)),
        virtual_scheduler,
    )
    # A group takes the time of its "(" and then as many steps as it has characters.
    assert_changes(out, expected_changes("-x--------y", {"x": ((), C), "y": (C, D)}))
    assert out.completed == 11.0


def test_conflate_drops_a_wait_that_returns_to_the_delivered_config(
    virtual_scheduler: TestScheduler,
) -> None:
    """With a delivered, b and a wait together: nothing changed, nothing is delivered."""
    out = run_virtual(
        source("-a--(b,a)|", virtual_scheduler).pipe(conflate(virtual_scheduler)),
        virtual_scheduler,
    )
    assert_changes(out, expected_changes("-x", {"x": ((), A)}))


def test_conflate_rejects_a_scheduler_that_is_not_one() -> None:
    """conflate(5) fails at pipe time naming the scheduler argument."""
    with pytest.raises(TypeError, match="conflate: scheduler"):
        conflate(5)  # type: ignore[arg-type]


# -- stale_after ---------------------------------------------------------------------------


def test_stale_after_turns_stale_after_silence_and_fresh_on_the_next_poll(
    virtual_scheduler: TestScheduler,
) -> None:
    """Heartbeats until 5, then silence until 15: FRESH at 1, STALE at 10, FRESH at 15."""
    beats = reactivex.from_marbles("-h-h-h---------h-h--|", timespan=1.0, scheduler=None)
    out = run_virtual(beats.pipe(stale_after(5)), virtual_scheduler)
    assert out.events == [
        (1.0, Freshness.FRESH),
        (10.0, Freshness.STALE),
        (15.0, Freshness.FRESH),
    ]


def test_hub_stale_after_turns_stale_when_the_source_never_polls(
    config_hub: ConfigHub, virtual_scheduler: TestScheduler
) -> None:
    """A hub nobody feeds is STALE after the period; polls fed later make it FRESH."""
    feed_hub(config_hub, "--------a-a|", CONFIGS, virtual_scheduler)
    seen: list[tuple[float, Freshness]] = []
    config_hub.heartbeats.pipe(stale_after(3, virtual_scheduler)).subscribe(
        lambda state: seen.append((virtual_scheduler.clock, state))
    )
    virtual_scheduler.advance_to(20)
    assert seen == [(3.0, Freshness.STALE), (8.0, Freshness.FRESH), (13.0, Freshness.STALE)]
    assert config_hub.current_hash == config_hash(A)


def test_stale_after_rejects_a_zero_period() -> None:
    """A zero or negative period makes no sense and fails naming the argument."""
    with pytest.raises(ValueError, match="stale_after: period must be > 0"):
        stale_after(0)


# -- composition ---------------------------------------------------------------------------


def test_operators_compose_on_a_live_hub(
    config_hub: ConfigHub, virtual_scheduler: TestScheduler
) -> None:
    """A hub fed by marbles, filtered then debounced: one change per quiet checkout edit."""
    seen: list[ConfigChange] = []
    config_hub.changes.pipe(
        only_paths("shop/checkout.py"), debounce_changes(2, virtual_scheduler)
    ).subscribe(seen.append)
    feed_hub(config_hub, "-a-b-c-d------e|", CONFIGS, virtual_scheduler)
    virtual_scheduler.advance_to(30)
    assert_chain(seen)
    assert [(c.old_hash, c.new) for c in seen] == [
        (None, (CHECKOUT,)),
        (config_hash((CHECKOUT,)), (CHECKOUT_LOG,)),
        (config_hash((CHECKOUT_LOG,)), ()),
    ]
    # Each is stamped with the hub's (virtual) time of the last change it covers.
    assert [c.ts for c in seen] == [1_000_000_000, 5_000_000_000, 14_000_000_000]


def test_operators_compose_with_plain_rx_operators(virtual_scheduler: TestScheduler) -> None:
    """The confighub operators and reactivex operators mix in one pipe."""
    out = run_virtual(
        source("-a-b-c-d|", virtual_scheduler).pipe(
            only_paths("shop/*"), ops.map(size), ops.distinct_until_changed()
        ),
        virtual_scheduler,
    )
    assert out.values == [1, 2, 3]


def test_conflate_delivers_what_waits_then_the_error(virtual_scheduler: TestScheduler) -> None:
    """An error upstream comes after the coalesced change that was waiting, not instead of it."""
    out = run_virtual(
        source("-(a,b,#)", virtual_scheduler).pipe(conflate(virtual_scheduler)),
        virtual_scheduler,
    )
    assert [c.new_hash for c in out.values] == [config_hash(B)]
    assert out.error is not None


def test_debounce_disposed_mid_burst_emits_nothing_later(virtual_scheduler: TestScheduler) -> None:
    """Unsubscribing while a burst waits cancels its timer: nothing arrives afterwards."""
    seen: list[ConfigChange] = []
    subscription = (
        source("-a-b------|", virtual_scheduler)
        .pipe(debounce_changes(3))
        .subscribe(seen.append, scheduler=virtual_scheduler)
    )
    virtual_scheduler.advance_to(4)
    subscription.dispose()
    virtual_scheduler.advance_to(20)
    assert seen == []
