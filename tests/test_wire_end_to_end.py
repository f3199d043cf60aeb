"""confighub against itself: a served file, a long-polling client, edits, faults and restarts."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from confighub import ConfigChange, ConfigHub, SourceState, SourceStatus, TracePoint, config_hash
from confighub.files import dump_tracepoints
from confighub.server import FileStore, HubServer
from confighub.sources import GrpcPollSource
from confighub.testing import assert_chain
from tests.waiting import Recorder, wait_until

A = (TracePoint("checkout", "shop/checkout.py", 42),)
B = (*A, TracePoint("cart", "shop/cart.py", 17))
C = (TracePoint("checkout", "shop/checkout.py", 42, {"fire_count": "-1"}), B[1])


def write(path: Path, text: str) -> None:
    draft = path.with_suffix(".draft")
    draft.write_text(text)
    os.replace(draft, path)


def states(statuses: list[SourceStatus]) -> list[SourceState]:
    return [status.state for status in statuses]


def counting(state: SourceState, times: int) -> Callable[[list[SourceStatus]], bool]:
    return lambda seen: states(seen).count(state) == times


def test_a_long_polling_client_follows_edits_a_bad_edit_and_two_server_restarts(
    tmp_path: Path,
) -> None:
    """Each good edit arrives once; a bad one changes nothing; restarts go INTERRUPTED → VALID."""
    file = tmp_path / "tracepoints.yaml"
    write(file, dump_tracepoints(A))
    changes: Recorder[ConfigChange] = Recorder()
    statuses: Recorder[SourceStatus] = Recorder()
    with FileStore(file, debounce_ms=10) as store, ConfigHub() as hub:
        server = HubServer(store).start()
        port = server.port
        hub.changes.subscribe(changes)
        hub.status.subscribe(statuses)
        source = GrpcPollSource(server.target, hub, hold=5, backoff_initial=0.05, backoff_max=0.2)
        with source:
            changes.wait_for(lambda seen: len(seen) == 1, "the first config")
            write(file, dump_tracepoints(B))
            changes.wait_for(lambda seen: len(seen) == 2, "the edit")

            write(file, "tracepoints:\n  - path: shop/late.py\n    line: soon\n")
            wait_until(lambda: store.error is not None, "the server to refuse the bad edit")
            assert "line" in str(store.error)
            assert store.state.hash == config_hash(B)

            for restart in (1, 2):
                server.stop()
                statuses.wait_for(counting(SourceState.INTERRUPTED, restart), "the outage")
                server = HubServer(store, port=port).start()
                statuses.wait_for(counting(SourceState.VALID, restart + 1), "the recovery")
            write(file, dump_tracepoints(C))
            changes.wait_for(lambda seen: len(seen) == 3, "the edit after the restarts")
        server.stop()
    seen = changes.items
    assert [change.new_hash for change in seen] == [config_hash(x) for x in (A, B, C)]
    assert_chain(seen)
    assert states(statuses.items) == [
        SourceState.INITIALIZING,
        SourceState.VALID,
        SourceState.INTERRUPTED,
        SourceState.VALID,
        SourceState.INTERRUPTED,
        SourceState.VALID,
        SourceState.OFF,
    ]
    assert statuses.items[2].error is not None
