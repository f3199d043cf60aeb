"""to_dataframe: a known run of changes as rows per event and per touched tracepoint."""

from __future__ import annotations

import sys
from typing import Any

import pandas as pd
import pytest

from confighub import ConfigChange, TracePoint, config_hash
from confighub.notebook import to_dataframe
from confighub.virtual import VirtualRun
from tests.support.chains import SECOND, chain

T0 = 1_700_000_000_000_000_000  # 2023-11-14 22:13:20 UTC, in ns

CHECKOUT = TracePoint("checkout", "shop/checkout.py", 42)
CART = TracePoint("cart", "shop/cart.py", 17)
CART_2 = TracePoint("cart", "shop/cart.py", 18)
PAY = TracePoint("pay", "shop/payments.py", 30)
AUDIT = TracePoint("audit", "shop/audit.py", 5)

# add 2, change 1, remove 1, add 1: one change every 10 s.
CONFIGS: list[tuple[TracePoint, ...]] = [
    (CHECKOUT, CART),
    (CHECKOUT, CART_2),
    (CART_2,),
    (CART_2, PAY),
]
HASHES = [config_hash(config) for config in CONFIGS]


CHANGES = chain(CONFIGS, first=T0, step=10 * SECOND)


def utc(ts: int) -> pd.Timestamp:
    return pd.Timestamp(ts, unit="ns", tz="UTC")


def test_one_row_per_event_with_counts_hashes_and_times() -> None:
    """Each change is a row: its UTC time, ts, hashes, diff counts and live items."""
    frame = to_dataframe(CHANGES)

    assert list(frame.columns) == [
        "time",
        "ts",
        "old_hash",
        "new_hash",
        "added",
        "removed",
        "changed",
        "live",
    ]
    assert frame["ts"].tolist() == [T0 + n * 10 * SECOND for n in range(4)]
    assert frame["time"].tolist() == [utc(T0 + n * 10 * SECOND) for n in range(4)]
    assert frame["time"].iloc[0] == pd.Timestamp("2023-11-14 22:13:20", tz="UTC")
    assert frame["old_hash"].tolist() == [None, *HASHES[:3]]
    assert frame["new_hash"].tolist() == HASHES
    assert frame["added"].tolist() == [2, 0, 0, 1]
    assert frame["removed"].tolist() == [0, 0, 1, 0]
    assert frame["changed"].tolist() == [0, 1, 0, 0]
    assert frame["live"].tolist() == [2, 2, 1, 2]
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]"
    assert {str(frame[c].dtype) for c in ("ts", "added", "removed", "changed", "live")} == {"int64"}


def test_one_row_per_touched_tracepoint_in_event_order() -> None:
    """per="tracepoint": a row per added, removed or changed item, with its path and line."""
    frame = to_dataframe(CHANGES, per="tracepoint")

    assert list(frame.columns) == ["time", "ts", "new_hash", "id", "change", "path", "line"]
    rows = frame[["ts", "new_hash", "id", "change", "path", "line"]].to_dict("records")
    assert rows == [
        {
            "ts": T0,
            "new_hash": HASHES[0],
            "id": "checkout",
            "change": "added",
            "path": "shop/checkout.py",
            "line": 42,
        },
        {
            "ts": T0,
            "new_hash": HASHES[0],
            "id": "cart",
            "change": "added",
            "path": "shop/cart.py",
            "line": 17,
        },
        {
            "ts": T0 + 10 * SECOND,
            "new_hash": HASHES[1],
            "id": "cart",
            "change": "changed",
            "path": "shop/cart.py",
            "line": 18,
        },
        {
            "ts": T0 + 20 * SECOND,
            "new_hash": HASHES[2],
            "id": "checkout",
            "change": "removed",
            "path": "shop/checkout.py",
            "line": 42,
        },
        {
            "ts": T0 + 30 * SECOND,
            "new_hash": HASHES[3],
            "id": "pay",
            "change": "added",
            "path": "shop/payments.py",
            "line": 30,
        },
    ]
    assert frame["time"].tolist() == [utc(ts) for ts in frame["ts"]]
    assert str(frame["line"].dtype) == "Int64"


def test_within_one_event_rows_go_added_then_removed_then_changed() -> None:
    """One change that edits cart, removes pay and adds audit lists audit, pay, then cart."""
    change = chain([(CART_2, PAY), (CART, AUDIT)], first=T0, step=10 * SECOND)[1]

    frame = to_dataframe([change], per="tracepoint")

    assert frame["id"].tolist() == ["audit", "pay", "cart"]
    assert frame["change"].tolist() == ["added", "removed", "changed"]
    assert frame["line"].tolist() == [5, 30, 17]
    assert to_dataframe([change])[["added", "removed", "changed", "live"]].values.tolist() == [
        [1, 1, 1, 2]
    ]


def test_items_without_path_or_line_get_none_and_na() -> None:
    """An opaque item is keyed by its repr; its path is None and its line <NA>."""
    change = ConfigChange(T0, None, "h1", (), ("opaque",))

    frame = to_dataframe([change], per="tracepoint")

    assert frame["id"].tolist() == ["'opaque'"]
    assert frame["path"].tolist() == [None]
    assert frame["line"].isna().tolist() == [True]


@pytest.mark.parametrize(
    ("per", "columns"),
    [
        (
            "event",
            {
                "time": "datetime64[ns, UTC]",
                "ts": "int64",
                "old_hash": "object",
                "new_hash": "object",
                "added": "int64",
                "removed": "int64",
                "changed": "int64",
                "live": "int64",
            },
        ),
        (
            "tracepoint",
            {
                "time": "datetime64[ns, UTC]",
                "ts": "int64",
                "new_hash": "object",
                "id": "object",
                "change": "object",
                "path": "object",
                "line": "Int64",
            },
        ),
    ],
)
def test_empty_input_gives_an_empty_frame_with_the_same_columns_and_dtypes(
    per: Any, columns: dict[str, str]
) -> None:
    """No changes: no rows, but the columns and dtypes of a full frame."""
    frame = to_dataframe([], per=per)

    assert len(frame) == 0
    assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == columns
    assert dict(frame.dtypes) == dict(to_dataframe(CHANGES, per=per).dtypes)


def test_a_recording_gives_the_frame_of_its_values() -> None:
    """A VirtualRun is read through its values: virtual times are dropped, ts is kept."""
    recording = VirtualRun([(1.0, CHANGES[0]), (3.0, CHANGES[1])], 5.0, None)

    pd.testing.assert_frame_equal(to_dataframe(recording), to_dataframe(CHANGES[:2]))
    pd.testing.assert_frame_equal(
        to_dataframe(recording, per="tracepoint"), to_dataframe(CHANGES[:2], per="tracepoint")
    )


def test_any_iterable_is_read_once() -> None:
    """A generator (like a tape, read lazily) gives the same frame as a list."""
    pd.testing.assert_frame_equal(to_dataframe(iter(CHANGES)), to_dataframe(CHANGES))


def test_a_bad_per_names_the_accepted_values() -> None:
    """A per other than "event" or "tracepoint" is a ValueError naming those two."""
    per: Any = "hour"
    with pytest.raises(ValueError, match=r"per must be 'event' or 'tracepoint', got 'hour'"):
        to_dataframe(CHANGES, per=per)


def test_without_pandas_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing pandas is an ImportError naming the function and the notebooks extra."""
    monkeypatch.setitem(sys.modules, "pandas", None)

    with pytest.raises(
        ImportError, match=r"^to_dataframe needs pandas: pip install 'confighub\[notebooks\]'$"
    ):
        to_dataframe(CHANGES)
