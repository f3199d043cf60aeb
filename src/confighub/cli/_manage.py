"""``confighub tp`` and ``confighub agents``: a running HubServer's config and its agents.

Each command is a call or a few of ``confighub.manage.ManagementClient`` on the
server's HTTP API (``serve --http-port``). The options say which server
(``--server`` or ``CONFIGHUB_SERVER``), which tenant and which credentials, all
checked before any call; a failed call ends with the ``error:`` line naming the
method, the URL, the HTTP status and the server's own words, exit 1. A refusal of
the credentials (401, 403) also says which options hold them; none shows them.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import click
from rich.text import Text

from confighub._internal.text import counted, short_hash
from confighub._wire.tenants import TENANT_HEADER
from confighub.cli._apply import add_all, apply_file
from confighub.cli._logging import CommandFailed
from confighub.cli._options import (
    FILE,
    HELP,
    SERVER_URL,
    credential_options,
    credentials,
    root_certificates,
    tenant_option,
    usage_errors,
)
from confighub.cli._render import agents_summary, agents_table, console, tracepoint_table
from confighub.events._wording import location
from confighub.exceptions import InvalidTracePoint, ManagementError, TracePointFileError
from confighub.files import dump_tracepoints, load_tracepoints, parse_tracepoints
from confighub.manage import ManagementClient
from confighub.model import TracePoint

__all__ = ["SERVER_ENV", "agents_command", "tp_group"]

SERVER_ENV: Final = "CONFIGHUB_SERVER"
_CREDENTIALS_HINT: Final = (
    "the server refused the credentials: check --token, --token-file or CONFIGHUB_TOKEN"
    " (or --basic or CONFIGHUB_BASIC)"
)

_Inline = tuple[TracePoint | dict[str, Any], ...]


@contextmanager
def _hinted() -> Iterator[None]:
    """A refusal of the credentials or the tenant, with the options to check."""
    try:
        yield
    except ManagementError as err:
        if err.status == 401 and TENANT_HEADER.lower() in err.reason.lower():
            raise CommandFailed(f"{err}; the server is multi-tenant: give --tenant") from None
        if err.status == 401:
            raise CommandFailed(f"{err}; {_CREDENTIALS_HINT}") from None
        if err.status == 403:
            raise CommandFailed(f"{err}; these credentials may not do this") from None
        raise


def _client(
    server: str,
    tenant: str | None,
    secrets: tuple[str | None, str | None],
    tls_ca: Path | None,
) -> ManagementClient:
    token, basic = secrets
    pem = root_certificates(tls_ca)
    if pem is not None and not server.startswith("https:"):
        raise click.UsageError("--tls-ca is for TLS: give an https:// --server")
    with usage_errors():
        return ManagementClient(
            server, tenant=tenant, token=token, basic=basic, root_certificates=pem
        )


def _managing(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options that name the server; ``command`` gets a ``ManagementClient`` as ``client``."""

    @functools.wraps(command)
    def with_client(
        *,
        server: str,
        tenant: str | None,
        token: str | None,
        token_file: Path | None,
        basic: str | None,
        tls_ca: Path | None,
        **rest: Any,
    ) -> Any:
        client = _client(server, tenant, credentials(token, token_file, basic), tls_ca)
        with _hinted():
            return command(client=client, **rest)

    options: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
        click.option(
            "--server",
            type=SERVER_URL,
            envvar=SERVER_ENV,
            show_envvar=True,
            required=True,
            help="The HubServer's HTTP API: http(s)://HOST:PORT[/PREFIX] (serve --http-port).",
        ),
        tenant_option,
        credential_options("Send"),
        click.option("--tls-ca", type=FILE, help="PEM root certificates of an https --server."),
    ]
    for option in reversed(options):
        with_client = option(with_client)
    return with_client


class _TracePoints(click.ParamType[Any]):
    """A tracepoint file (YAML or JSON), or inline JSON when the value starts with ``{``.

    Inline JSON is a whole file (``{"tracepoints": [...]}``), one tracepoint in the
    file's form (``line``), or one in the API's (``lineNumber``; without an ``ID``
    the server gives one). A bad one is a usage error; a file is read by the command.
    """

    name = "FILE|JSON"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, Path | tuple):
            return value
        text = str(value)
        if not text.lstrip().startswith("{"):
            return FILE.convert(text, param, ctx)
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                self.fail("inline JSON must be an object", param, ctx)
            if "tracepoints" in data:
                return parse_tracepoints(text, source="the inline JSON", format="json")
            if "line" in data:
                return (TracePoint.from_dict(data),)
            # Checked here as the server will check it; sent as given, for the server's id.
            TracePoint.from_json(data, default_id="(the server's)")
            return (data,)
        except (ValueError, InvalidTracePoint, TracePointFileError) as err:
            self.fail(f"not a tracepoint: {err}", param, ctx)


@click.group("tp", context_settings=HELP)
def tp_group() -> None:
    """List, show, add, remove and apply the tracepoints a HubServer serves (its HTTP API)."""


@tp_group.command("ls")
@_managing
def ls_command(*, client: ManagementClient) -> None:
    """List the tracepoints the server serves: id, where, actions; and the config's hash."""
    listing = client.list()
    out = console()
    if listing.tracepoints:
        out.print(tracepoint_table(listing.tracepoints))
    tenant = f" of tenant {client.tenant}" if client.tenant is not None else ""
    out.print(f"{counted(len(listing.tracepoints), 'tracepoint')}{tenant}, hash {listing.hash}")


@tp_group.command("get")
@click.argument("tp_id", metavar="ID")
@_managing
def get_command(*, client: ManagementClient, tp_id: str) -> None:
    """Print tracepoint ID as a tracepoint file (YAML), which `tp add` and `tp apply` read."""
    console().out(dump_tracepoints([client.get(tp_id)]), end="")


@tp_group.command("add")
@click.argument("source", metavar="FILE|JSON", type=_TracePoints())
@_managing
def add_command(*, client: ManagementClient, source: Path | _Inline) -> None:
    """Add every tracepoint of a file (YAML or JSON), or the inline JSON of one.

    An id already in use is refused (409): `tp apply` replaces tracepoints.
    """
    items: _Inline = load_tracepoints(source) if isinstance(source, Path) else source
    if not items:
        raise CommandFailed(f"{source} holds no tracepoints: there is nothing to add")
    add_all(client, items, console())


@tp_group.command("rm")
@click.argument("tp_id", metavar="ID")
@_managing
def rm_command(*, client: ManagementClient, tp_id: str) -> None:
    """Remove tracepoint ID."""
    written = client.delete(tp_id)
    tp = written.tracepoint
    line = f"- {tp.id}  {location(tp)}; hash {short_hash(written.hash)}"
    console().print(Text(line, style="red"))


@tp_group.command("apply")
@click.argument("file", type=FILE)
@click.option("--dry-run", is_flag=True, help="Print the changes to make; write nothing.")
@_managing
def apply_command(*, client: ManagementClient, file: Path, dry_run: bool) -> None:
    """Make the server's tracepoints those of FILE: add, replace and remove what differs.

    The whole config is written in one step that names the config hash read, so a
    change made meanwhile by someone else stops apply with nothing written (run it
    again) instead of being overwritten.
    """
    apply_file(client, load_tracepoints(file), str(file), console(), dry_run=dry_run)


@click.command("agents", context_settings=HELP)
@_managing
def agents_command(*, client: ManagementClient) -> None:
    """List the agents polling a HubServer, and whether each holds its config."""
    agents = client.agents()
    out = console()
    if agents:
        out.print(agents_table(agents, time.time(), out.width))
    out.print(agents_summary(agents))
