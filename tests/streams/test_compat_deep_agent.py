"""The drop-in claim, proven with the real Deep Python agent (``deep-agent`` from PyPI).

The agent is built with ``ConfigService(..., tracepoints=compat.TracepointConfigService())``
and long-polls a deep-proto ``PollConfig`` servicer written here, on 127.0.0.1.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from deepproto.proto.poll.v1 import poll_pb2, poll_pb2_grpc
from deepproto.proto.tracepoint.v1 import tracepoint_pb2, tracepoint_pb2_grpc

from confighub import ConfigChange, TracePoint, config_hash
from confighub.compat import TracepointConfigService
from tests.support import agent_target
from tests.support.deep_agent import start_agent, trigger_ids
from tests.support.waiting import wait_until


class DeepServer(poll_pb2_grpc.PollConfigServicer, tracepoint_pb2_grpc.SnapshotServiceServicer):  # type: ignore[misc]
    """A minimal Deep server: serves a settable config, records polls and snapshots."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.config: tuple[TracePoint, ...] = ()
        self.hash = config_hash(())
        self.polled_hashes: list[str] = []
        self.snapshots: list[Any] = []

    def serve(self, *tracepoints: TracePoint) -> str:
        with self.lock:
            self.config, self.hash = tracepoints, config_hash(tracepoints)
            return self.hash

    def poll(self, request: Any, context: Any) -> Any:
        with self.lock:
            self.polled_hashes.append(request.current_hash)
            if request.current_hash == self.hash:
                return poll_pb2.PollResponse(
                    ts_nanos=time.time_ns(),
                    current_hash=self.hash,
                    response_type=poll_pb2.NO_CHANGE,
                )
            return poll_pb2.PollResponse(
                ts_nanos=time.time_ns(),
                current_hash=self.hash,
                response=[tp.to_proto() for tp in self.config],
                response_type=poll_pb2.UPDATE,
            )

    def send(self, request: Any, context: Any) -> Any:
        with self.lock:
            self.snapshots.append(request)
        return tracepoint_pb2.SnapshotResponse()


@pytest.fixture
def deep_server() -> Iterator[tuple[DeepServer, int]]:
    servicer = DeepServer()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    poll_pb2_grpc.add_PollConfigServicer_to_server(servicer, server)
    tracepoint_pb2_grpc.add_SnapshotServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, port
    server.stop(grace=None).wait()


def test_agent_long_poll_feeds_its_trigger_handler_and_the_hub(
    deep_server: tuple[DeepServer, int],
) -> None:
    """The agent's trigger handler gets the served tracepoints; an rx observer sees the change."""
    servicer, port = deep_server
    served = servicer.serve(
        TracePoint("tp-cart", "cart.py", 12, {"fire_count": "-1"}),
        TracePoint("tp-pay", "payments.py", 30, {"log_msg": "paid {x}", "snapshot": "no_collect"}),
    )
    service = TracepointConfigService()
    seen: list[ConfigChange] = []
    service.hub.changes.subscribe(seen.append)
    agent = start_agent(f"127.0.0.1:{port}", service, trace=False)
    try:
        wait_until(
            lambda: trigger_ids(agent) == {"cart.py#12", "payments.py#30"}, "served triggers"
        )
        assert seen[0].new_hash == served
        assert {t.id for t in seen[0].new} == {"cart.py#12", "payments.py#30"}
        wait_until(lambda: served in servicer.polled_hashes, "the agent to poll with the new hash")

        changed = servicer.serve(TracePoint("tp-cart", "cart.py", 14))
        wait_until(lambda: trigger_ids(agent) == {"cart.py#14"}, "the edited config")
        assert [c.new_hash for c in seen] == [served, changed]
        assert seen[1].old_hash == served
        diff = seen[1].diff
        assert (set(diff.added), set(diff.removed)) == (
            {"cart.py#14"},
            {"cart.py#12", "payments.py#30"},
        )

        registration = agent.register_tracepoint("extra.py", 3, {"fire_count": "2"})
        wait_until(
            lambda: trigger_ids(agent) == {"cart.py#14", "extra.py#3"}, "the custom tracepoint"
        )
        assert service.current_hash == changed
        assert seen[-1].new_hash != changed
        registration.unregister()
        wait_until(lambda: trigger_ids(agent) == {"cart.py#14"}, "the custom tracepoint to go")
        assert seen[-1].new_hash == changed
    finally:
        agent.shutdown()
        service.hub.close()


def test_agent_fires_a_served_tracepoint_and_sends_a_snapshot(
    deep_server: tuple[DeepServer, int],
) -> None:
    """End to end: a tracepoint served through the hub fires in the agent and a snapshot arrives."""
    servicer, port = deep_server
    servicer.serve(TracePoint("tp-checkout", "agent_target.py", agent_target.TRACED_LINE))
    service = TracepointConfigService()
    agent = start_agent(f"127.0.0.1:{port}", service, trace=True)
    try:
        wait_until(lambda: bool(trigger_ids(agent)), "the served tracepoint")
        # Tracing applies to frames entered after settrace, so call from a fresh thread.
        worker = threading.Thread(target=agent_target.checkout, args=(21,))
        worker.start()
        worker.join()
        wait_until(lambda: bool(servicer.snapshots), "a snapshot from the agent")
    finally:
        agent.shutdown()
        service.hub.close()
    snapshot = servicer.snapshots[0]
    assert snapshot.tracepoint.ID == "tp-checkout"
    assert snapshot.tracepoint.line_number == agent_target.TRACED_LINE
