"""Interop: the real Deep Python agent (``deep-agent``) polling ``HubServer`` on 127.0.0.1."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from confighub import TracePoint, config_hash
from confighub.compat import TracepointConfigService
from confighub.files import dump_tracepoints
from confighub.server import FileStore, HubServer, MemoryStore
from tests.support import agent_target
from tests.support.deep_agent import start_agent, trigger_ids
from tests.support.edits import replace_file
from tests.support.http_json import send
from tests.support.waiting import TIMEOUT, wait_until

CART = TracePoint("tp-cart", "cart.py", 12, {"fire_count": "-1"})
PAY = TracePoint("tp-pay", "payments.py", 30, {"log_msg": "paid {x}", "snapshot": "no_collect"})


@contextlib.contextmanager
def running_agent(server: HubServer, *, trace: bool = False, **settings: str) -> Iterator[Any]:
    """A Deep agent polling ``server`` every 0.1 s with our compat service, shut down after."""
    service = TracepointConfigService()
    agent = start_agent(server.target, service, trace=trace, **settings)
    try:
        yield agent
    finally:
        agent.shutdown()
        service.hub.close()


def served_hash(agent: Any) -> str | None:
    """The hash the agent will send on its next poll."""
    result: str | None = agent.config.tracepoints.current_hash
    return result


def test_the_agent_gets_a_file_and_its_edits(tmp_path: Path) -> None:
    """An agent polling a FileStore-backed server gets its tracepoints, then an edit of the file."""
    path = tmp_path / "tracepoints.yaml"
    path.write_text(dump_tracepoints([CART, PAY]), encoding="utf-8")
    edited = TracePoint("tp-cart", "cart.py", 14)
    with FileStore(path) as store, HubServer(store) as server, running_agent(server) as agent:
        wait_until(
            lambda: trigger_ids(agent) == {"cart.py#12", "payments.py#30"}, "served triggers"
        )
        wait_until(lambda: served_hash(agent) == store.hash, "the agent to hold the served hash")

        replace_file(path, dump_tracepoints([edited]))
        wait_until(
            lambda: trigger_ids(agent) == {"cart.py#14"}, "the edited file to reach the agent"
        )
        assert served_hash(agent) == store.hash == config_hash([edited])
        assert server.stats().holds == 0


def test_the_agent_gets_only_what_targets_its_resource() -> None:
    """Tracepoints targeted at the Python SDK reach the agent; those for Java do not."""
    python = TracePoint("tp-py", "py.py", 1, targeting={"telemetry.sdk.language": "python"})
    java = TracePoint("tp-java", "Java.java", 1, targeting={"telemetry.sdk.language": "java"})
    with (
        HubServer(MemoryStore([CART, python, java])) as server,
        running_agent(server) as agent,
    ):
        wait_until(lambda: trigger_ids(agent) == {"cart.py#12", "py.py#1"}, "the targeted triggers")
        wait_until(lambda: served_hash(agent) == config_hash([CART, python]), "the targeted hash")


def test_the_agent_authenticates_with_its_basic_auth_provider() -> None:
    """Deep's BasicAuthProvider (which sends ``Basic%20...``) is accepted by ``basic=``."""
    with (
        HubServer(MemoryStore([CART]), basic="agent:s3cret") as server,
        running_agent(
            server,
            SERVICE_AUTH_PROVIDER="deep.api.auth.BasicAuthProvider",
            SERVICE_USERNAME="agent",
            SERVICE_PASSWORD="s3cret",
        ) as agent,
    ):
        wait_until(lambda: trigger_ids(agent) == {"cart.py#12"}, "the served trigger")


def test_a_snapshot_from_the_agent_reaches_on_snapshot() -> None:
    """A served tracepoint fires in the agent, and its snapshot is handed to on_snapshot."""
    received: list[Any] = []
    arrived = threading.Event()

    def on_snapshot(snapshot: Any) -> None:
        received.append(snapshot)
        arrived.set()

    checkout = TracePoint("tp-checkout", "agent_target.py", agent_target.TRACED_LINE)
    with (
        HubServer(MemoryStore([checkout]), on_snapshot=on_snapshot) as server,
        running_agent(server, trace=True) as agent,
    ):
        wait_until(lambda: bool(trigger_ids(agent)), "the served tracepoint")
        # Tracing applies to frames entered after settrace, so call from a fresh thread.
        worker = threading.Thread(target=agent_target.checkout, args=(21,))
        worker.start()
        worker.join()
        assert arrived.wait(TIMEOUT), "no snapshot arrived"
    assert received[0].tracepoint.ID == "tp-checkout"
    assert received[0].tracepoint.line_number == agent_target.TRACED_LINE


def test_a_tracepoint_created_over_the_http_api_reaches_the_agent_and_fires() -> None:
    """An operator POSTs a tracepoint; the agent picks it up, fires it, and a DELETE removes it."""
    received: list[Any] = []
    arrived = threading.Event()

    def on_snapshot(snapshot: Any) -> None:
        received.append(snapshot)
        arrived.set()

    body = {"tracepoint": {"path": "agent_target.py", "lineNumber": agent_target.TRACED_LINE}}
    with (
        HubServer(MemoryStore(), http_port=0, on_snapshot=on_snapshot) as server,
        running_agent(server, trace=True) as agent,
    ):
        wait_until(lambda: served_hash(agent) == server.store.state.hash, "the empty config")
        created = send(f"{server.http_url}/api/tracepoints", "POST", body)["created"]
        wait_until(
            lambda: trigger_ids(agent) == {f"agent_target.py#{agent_target.TRACED_LINE}"},
            "the created tracepoint to reach the agent",
        )
        worker = threading.Thread(target=agent_target.checkout, args=(21,))
        worker.start()
        worker.join()
        assert arrived.wait(TIMEOUT), "no snapshot arrived"
        assert created["ID"] == received[0].tracepoint.ID

        send(f"{server.http_url}/api/tracepoints/{created['ID']}", "DELETE")
        wait_until(lambda: trigger_ids(agent) == set(), "the deleted tracepoint to leave")
