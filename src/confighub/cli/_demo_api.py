"""The second act of ``confighub demo``: an operator manages a running server over HTTP.

A ``HubServer`` serves an SQLite store (in a temporary folder) with its HTTP
management API on; two ``GrpcPollSource`` clients of one service long-poll it,
as a fleet does. The operator, through ``ManagementClient`` (what ``confighub tp``
uses), adds a tracepoint, and the clients see it within milliseconds; the fleet
view (what ``confighub agents`` shows) then has both agents converged on the new
hash; a second operator's write made against the old hash is refused (412) rather
than overwriting in silence; and a delete reaches the clients like the add.
"""

from __future__ import annotations

import tempfile
import threading
import time
from contextlib import ExitStack
from functools import partial
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from confighub._internal.text import counted, short_hash
from confighub.cli._arrival import ARRIVAL_TIMEOUT, until
from confighub.cli._render import agents_summary, agents_table, render_change
from confighub.events import ConfigChange
from confighub.exceptions import ManagementError
from confighub.hub import ConfigHub
from confighub.manage import ManagementClient
from confighub.model import TracePoint
from confighub.server import HubServer
from confighub.sources import GrpcPollSource
from confighub.stores import SqliteStore

__all__ = ["run_api_act"]

SERVICE = "checkout"
AGENTS = 2


class _Fleet:
    """The demo's agents: one hub each, and a way to wait until all of them hold a hash."""

    def __init__(self, out: Console) -> None:
        self.out = out
        self.held: list[str | None] = []
        """The hash of the last change each agent's observers were told of."""
        self.seen = 0
        self.arrived = threading.Condition()

    def join(self, stack: ExitStack, server: HubServer) -> None:
        for number in range(AGENTS):
            hub = stack.enter_context(ConfigHub())
            if number == 0:  # one agent's changes are printed: the others' are the same
                hub.changes.subscribe(lambda change: self.out.print(render_change(change, SERVICE)))
            # Subscribed last: the printer is done with a change when it is counted.
            hub.changes.subscribe(partial(self._counted, number))
            self.held.append(None)
            resource = {"pod": f"{SERVICE}-{number + 1}"}
            stack.enter_context(GrpcPollSource(server.target, hub, hold=10, resource=resource))

    def _counted(self, at: int, change: ConfigChange) -> None:
        with self.arrived:
            self.seen += 1
            self.held[at] = change.new_hash
            self.arrived.notify_all()

    def wait_for_hash(self, digest: str) -> bool:
        with self.arrived:
            return self.arrived.wait_for(
                lambda: all(held == digest for held in self.held), ARRIVAL_TIMEOUT
            )


def run_api_act(out: Console) -> int:
    """Run the act, printing what the operator does and what the fleet sees; changes seen."""
    with tempfile.TemporaryDirectory(prefix="confighub-demo-") as tmp, ExitStack() as stack:
        store = stack.enter_context(SqliteStore(Path(tmp) / "confighub.db"))
        server = stack.enter_context(HubServer(store, http_port=0))
        operator = ManagementClient(server.http_url)
        out.rule(f"[bold]gRPC on {server.target}, HTTP API on {server.http_url}")
        out.print(f"an SQLite store; {AGENTS} agents of {SERVICE} long-poll it")
        fleet = _Fleet(out)
        fleet.join(stack, server)
        fleet.wait_for_hash(store.hash)

        out.rule("[bold]an operator adds a tracepoint: POST /api/tracepoints")
        before = operator.list().hash
        start = time.perf_counter()
        created = operator.create(
            {"path": "shop/checkout.py", "lineNumber": 88, "args": {"log_msg": "refund {amount}"}}
        )
        out.print(
            f"created {escape(created.tracepoint.id)}; the config's hash is now"
            f" {short_hash(created.hash)}"
        )
        if fleet.wait_for_hash(created.hash):
            took = (time.perf_counter() - start) * 1000
            out.print(f"[dim]every agent holds it {took:.0f} ms after the write[/]")

        out.rule("[bold]the fleet view: GET /api/agents (confighub agents)")
        until(lambda: _all_converged(operator))
        agents = operator.agents()
        out.print(agents_table(agents, time.time(), out.width))
        out.print(agents_summary(agents))

        out.rule("[bold]a second operator writes against the hash before the add: refused")
        stale = TracePoint(created.tracepoint.id, "shop/checkout.py", 90)
        try:
            operator.put(stale, if_match=before)
        except ManagementError as err:
            out.print(f"[red]server: {escape(str(err))}[/]")

        out.rule("[bold]the operator removes it: DELETE /api/tracepoints/{id}")
        removed = operator.delete(created.tracepoint.id)
        fleet.wait_for_hash(removed.hash)
        out.rule(f"[bold]done: {counted(fleet.seen, 'change')} seen by {AGENTS} agents")
        return fleet.seen


def _all_converged(operator: ManagementClient) -> bool:
    agents = operator.agents()
    return len(agents) == AGENTS and all(agent.get("converged") is True for agent in agents)
