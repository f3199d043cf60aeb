"""``confighub.testing``: the pytest plugin's fixtures and the stream assertions' messages."""

from __future__ import annotations

import pytest
from reactivex.testing import TestScheduler

from confighub import ConfigChange, ConfigHub, TracePoint, config_hash
from confighub.testing import TracePointFactory, assert_chain, assert_changes
from confighub.virtual import changes_from_marbles, expected_changes, run_virtual

A = (TracePoint("checkout", "shop/checkout.py", 42),)
B = (*A, TracePoint("cart", "shop/cart.py", 17))
CONFIGS = {"a": A, "b": B}


def test_the_plugin_is_registered_through_its_entry_point(request: pytest.FixtureRequest) -> None:
    """Installing confighub is enough: pytest loads confighub.testing as plugin "confighub"."""
    assert request.config.pluginmanager.has_plugin("confighub")


def test_make_tracepoint_builds_valid_tracepoints_with_fresh_ids(
    make_tracepoint: TracePointFactory,
) -> None:
    """Ids and lines count up unless given; args pass through as tracepoint args."""
    first, second = make_tracepoint(), make_tracepoint("shop/cart.py", 17, fire_count="-1")
    assert (first.id, first.line, second.id, second.line) == ("tp-1", 1, "tp-2", 17)
    assert second.fire_count == -1
    assert make_tracepoint(id="mine").id == "mine"


def test_config_hub_runs_on_the_virtual_clock(
    config_hub: ConfigHub, virtual_scheduler: TestScheduler
) -> None:
    """Changes made from code are stamped with the scheduler's virtual time, in ns."""
    seen: list[ConfigChange] = []
    config_hub.changes.subscribe(seen.append)
    virtual_scheduler.advance_to(2.5)
    config_hub.add_custom("shop/checkout.py", 42)
    assert seen[0].ts == 2_500_000_000


def test_changes_from_marbles_chains_configs_and_skips_a_repeat(
    virtual_scheduler: TestScheduler,
) -> None:
    """a, a again, b: two changes, None→a then a→b, at the letters' times."""
    out = run_virtual(
        changes_from_marbles("-a-a-b|", CONFIGS, scheduler=virtual_scheduler), virtual_scheduler
    )
    assert [(time, c.old_hash, c.new_hash) for time, c in out.events] == [
        (1.0, None, config_hash(A)),
        (5.0, config_hash(A), config_hash(B)),
    ]
    assert out.completed == 6.0
    assert_chain(out)


def test_assert_changes_names_configs_by_letter_and_shows_the_diff() -> None:
    """A wrong time and a missing event are both reported, with letters and +/- ids."""
    actual = expected_changes("--x", {"x": ((), A)})
    expected = expected_changes("-x-y", {"x": ((), A), "y": (A, B)})
    with pytest.raises(pytest.fail.Exception) as failure:
        assert_changes(actual, expected, names=CONFIGS)
    assert str(failure.value) == (
        "change streams differ (1 events, 2 expected):\n"
        "event 0: expected at 1 None→a (+checkout)\n"
        "              got at 2 None→a (+checkout)\n"
        "event 1: missing at 3 a→b (+cart)"
    )


def test_assert_changes_ignores_times_when_one_side_has_none() -> None:
    """Plain ConfigChange lists compare by hashes and diffs only."""
    timed = expected_changes("---x", {"x": ((), A)})
    assert_changes([change for _, change in timed], timed)


def test_assert_chain_reports_where_the_chain_breaks() -> None:
    """A change that does not start where the previous one ended is named by its index."""
    first = ConfigChange(1, None, config_hash(A), (), A)
    gap = ConfigChange(2, config_hash(()), config_hash(B), (), B)
    with pytest.raises(pytest.fail.Exception, match="chain broken at event 1"):
        assert_chain([first, gap])


def test_marbles_naming_no_config_are_refused_at_once() -> None:
    """A misspelt letter, or a group written without commas, is an error, not a silent config."""
    with pytest.raises(ValueError, match=r"name 'abc', 'd', not one of 'a', 'b' \(several"):
        changes_from_marbles("-(abc)-d", {"a": (), "b": ()})
    with pytest.raises(ValueError, match="name 'y'"):
        expected_changes("-x-y", {"x": ((), ())})
