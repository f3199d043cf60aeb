"""confighub against itself: a served file, a long-polling client, edits, faults and restarts."""

from __future__ import annotations

from pathlib import Path

from confighub import ConfigHub, SourceState, TracePoint, config_hash
from confighub.files import dump_tracepoints
from confighub.server import FileStore, HubServer
from confighub.sources import GrpcPollSource
from confighub.testing import assert_chain
from tests.support.edits import replace_file
from tests.support.observing import counts, states, watch
from tests.support.waiting import wait_until

A = (TracePoint("checkout", "shop/checkout.py", 42),)
B = (*A, TracePoint("cart", "shop/cart.py", 17))
C = (TracePoint("checkout", "shop/checkout.py", 42, {"fire_count": "-1"}), B[1])


def test_a_long_polling_client_follows_edits_a_bad_edit_and_two_server_restarts(
    tmp_path: Path,
) -> None:
    """Each good edit arrives once; a bad one changes nothing; restarts go INTERRUPTED → VALID."""
    file = tmp_path / "tracepoints.yaml"
    replace_file(file, dump_tracepoints(A))
    with FileStore(file, debounce_ms=10) as store, ConfigHub() as hub:
        server = HubServer(store).start()
        port = server.port
        changes, statuses = watch(hub)
        # A short interval: after a restart, answers come at once, and the client paces
        # its polls by it until one is held again.
        source = GrpcPollSource(
            server.target, hub, hold=5, interval=0.2, backoff_initial=0.05, backoff_max=0.2
        )
        with source:
            changes.wait_for(lambda seen: len(seen) == 1, "the first config")
            replace_file(file, dump_tracepoints(B))
            changes.wait_for(lambda seen: len(seen) == 2, "the edit")

            replace_file(file, "tracepoints:\n  - path: shop/late.py\n    line: soon\n")
            wait_until(lambda: store.error is not None, "the server to refuse the bad edit")
            assert "line" in str(store.error)
            assert store.state.hash == config_hash(B)

            for restart in (1, 2):
                server.stop()
                statuses.wait_for(counts(SourceState.INTERRUPTED, restart), "the outage")
                server = HubServer(store, port=port).start()
                statuses.wait_for(counts(SourceState.VALID, restart + 1), "the recovery")
            replace_file(file, dump_tracepoints(C))
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
