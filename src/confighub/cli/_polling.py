"""Polling a server for ``watch`` and ``record``, and when to give up.

A setting the client refuses (a target without a port, a URL) is a usage error.
A fatal poll failure (``PollFailed.fatal``: refused credentials, not a PollConfig
server) before the server ever answered ends the command with a hint in the CLI's
option names: no retry can fix it. After the config arrived, the same failure (a
token revoked mid-run) is a warning and the command goes on with the last good config,
retrying at the backoff cap: a server being redeployed may accept the token again, and
a watch that keeps what it saw is more use than one that quits. A command that stops
before the server ever answered fails too: it has shown or recorded nothing.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from confighub._internal.text import cut, shown
from confighub._wire.tenants import TENANT_METADATA_KEY
from confighub.cli._logging import CommandFailed, cli_logger
from confighub.cli._options import resource_attributes, root_certificates, usage_errors
from confighub.exceptions import PollFailed
from confighub.hub import ConfigHub, SourceState, SourceStatus
from confighub.sources import GrpcPollSource

__all__ = ["Connection", "connection", "follow", "refusal"]

_HINTS: Final = {
    "UNAUTHENTICATED": (
        "the server refused the credentials: check --token, --token-file or CONFIGHUB_TOKEN"
        " (or --basic or CONFIGHUB_BASIC)"
    ),
    "PERMISSION_DENIED": "these credentials (--token or --basic) may not poll this server",
    "UNIMPLEMENTED": "TARGET does not serve Deep's PollConfig: check its host and port",
    "INVALID_ARGUMENT": "the server refused the request: check --resource",
}


@dataclass(frozen=True, slots=True)
class Connection:
    """How to reach and poll a Deep ``PollConfig`` server (``watch`` and ``record`` options)."""

    target: str
    interval: float = 10.0
    hold: float | None = None
    token: str | None = None
    basic: str | None = None
    tls_ca: Path | None = None
    root_certificates: bytes | None = None
    """The contents of ``tls_ca``."""
    resource: dict[str, str] = field(default_factory=dict)
    tenant: str | None = None


def connection(
    target: str,
    *,
    interval: float,
    hold: float | None,
    resource: tuple[tuple[str, str], ...],
    credentials: tuple[str | None, str | None],
    tls_ca: Path | None,
    tenant: str | None = None,
) -> Connection:
    """The ``Connection`` that ``watch`` or ``record``'s options describe, its CA file checked."""
    token, basic = credentials
    pem = root_certificates(tls_ca)
    attributes = resource_attributes(resource)
    return Connection(target, interval, hold, token, basic, tls_ca, pem, attributes, tenant)


def _described(connection: Connection) -> str:
    """How the connection polls, for the debug log: never a credential itself."""
    hold = connection.hold
    parts = [
        f"{cut(connection.target)} every {connection.interval:g} s"
        + (f", holding each poll {hold:g} s" if hold is not None else "")
    ]
    if connection.resource:
        parts.append(f"resource {shown(connection.resource)}")
    if connection.tenant is not None:
        parts.append(f"tenant {connection.tenant}")
    if connection.token is not None:
        parts.append("a bearer token")
    elif connection.basic is not None:
        parts.append("basic credentials")
    if connection.tls_ca is not None:
        parts.append(f"TLS trusting {connection.tls_ca}")
    return ", with ".join(parts)


def refusal(failure: PollFailed) -> str:
    """A fatal failure in the CLI's words: the server's own reason, and what to change."""
    cause = failure.__cause__
    details = getattr(cause, "details", None)
    reason = (details() if callable(details) else None) or failure.reason
    hint = _HINTS.get(failure.code or "", "check the options")
    if failure.code == "UNAUTHENTICATED" and TENANT_METADATA_KEY in str(reason).lower():
        # A multi-tenant server refuses a poll that names no tenant this way too.
        hint = "the server is multi-tenant: name the tenant with --tenant"
    return f"{cut(failure.target)} refused the poll ({failure.code}: {cut(str(reason))}); {hint}"


class _Health:
    """Follows the hub's status: the first answer, fatal failures, the last error."""

    def __init__(self, target: str, stop: threading.Event) -> None:
        self.target = target
        self.answered = False
        self.fatal: PollFailed | None = None
        self.last_error: BaseException | None = None
        self._stop = stop

    def __call__(self, status: SourceStatus) -> None:
        if status.state is SourceState.VALID:
            if not self.answered:
                self.answered = True
                cli_logger.info("connected to %s", cut(self.target))
        elif status.state is SourceState.INTERRUPTED:
            error = self.last_error = status.error
            if isinstance(error, PollFailed) and error.fatal:
                if self.answered:
                    cli_logger.warning(
                        "%s; keeping the last good config and retrying", refusal(error)
                    )
                else:
                    self.fatal = error
                    self._stop.set()

    def verdict(self, what: str) -> None:
        """Raise ``CommandFailed`` when the server refused for good or never answered."""
        if self.fatal is not None:
            raise CommandFailed(refusal(self.fatal))
        if not self.answered:
            why = f" ({self.last_error})" if self.last_error is not None else ""
            raise CommandFailed(f"{what}: no answer from {cut(self.target)}{why}")


def follow(
    connection: Connection,
    hub: ConfigHub,
    stop: threading.Event,
    duration: float | None,
    *,
    nothing: str,
) -> None:
    """Poll ``connection`` into ``hub`` until ``stop`` or ``duration``, then judge how it went.

    ``nothing`` says what the command did if the server never answered (the
    start of the ``error:`` line).
    """
    health = _Health(connection.target, stop)
    hub.status.subscribe(health)
    with usage_errors():  # a target without a port, a URL
        source = GrpcPollSource(
            connection.target,
            hub,
            interval=connection.interval,
            hold=connection.hold,
            resource=connection.resource,
            root_certificates=connection.root_certificates,
            token=connection.token,
            basic=connection.basic,
            tenant=connection.tenant,
        )
    cli_logger.debug("polling %s", _described(connection))
    deadline = time.monotonic() + duration if duration is not None else None
    with source:
        while not stop.is_set():
            left = deadline - time.monotonic() if deadline is not None else None
            if left is not None and left <= 0:
                break
            stop.wait(left)
    health.verdict(nothing)
