"""The options the commands share, with types that carry their rules.

A value an option's type refuses is a usage error (exit 2) naming the option, before
anything starts; so is a setting the library refuses (``usage_errors``). Secrets come
from ``--token``, ``--token-file`` or ``--basic``, or from ``CONFIGHUB_TOKEN`` and
``CONFIGHUB_BASIC``, which keep them out of ``ps``; no message ever shows one, nor a
``--server`` URL that holds credentials (refused: they go in those options).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import click
from click.core import ParameterSource

from confighub._wire.credentials import CLI_SPELLING, check_credentials, check_root_certificates
from confighub._wire.tenants import check_tenant
from confighub.manage import check_server_url

__all__ = [
    "FILE",
    "HELP",
    "OUTPUT",
    "PORT",
    "SERVER_URL",
    "TENANT",
    "Seconds",
    "client_options",
    "credential_options",
    "credentials",
    "resource_attributes",
    "root_certificates",
    "tenant_option",
    "usage_errors",
]

HELP: Final = {"help_option_names": ["-h", "--help"]}
TOKEN_ENV: Final = "CONFIGHUB_TOKEN"
BASIC_ENV: Final = "CONFIGHUB_BASIC"
PORT: Final = click.IntRange(0, 65535)
FILE: Final = click.Path(exists=True, dir_okay=False, path_type=Path)


class Seconds(click.FloatRange):
    """A number of seconds in a range, and finite: ``nan`` and ``inf`` pass no range check."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if not math.isfinite(seconds):
            self.fail(f"{value!r} is not a finite number of seconds", param, ctx)
        return seconds


class _Output(click.Path[Path]):
    """A file to write: its folder must exist (the command would fail only once it started)."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False, writable=True, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        path = super().convert(value, param, ctx)
        folder = path.parent
        if not folder.is_dir():
            self.fail(f"folder {click.format_filename(folder)!r} does not exist", param, ctx)
        return path


OUTPUT: Final = _Output()


class _Checked(click.ParamType[str]):
    """A text the library's ``check`` accepts; its ``ValueError`` is the usage error's words."""

    def __init__(self, name: str, check: Callable[[str], str]) -> None:
        self.name = name
        self._check = check

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return self._check(str(value))
        except ValueError as err:
            # The library's message: it never quotes a URL's credentials.
            self.fail(str(err), param, ctx)


SERVER_URL: Final = _Checked("URL", check_server_url)
"""A HubServer's HTTP API, ``http(s)://HOST:PORT[/PREFIX]``, without a trailing ``/``."""
TENANT: Final = _Checked("TENANT", check_tenant)


def tenant_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--tenant``: the tenant a multi-tenant server serves this command."""
    return click.option(
        "--tenant",
        type=TENANT,
        help="The tenant to ask a multi-tenant server for (X-Scope-OrgID).",
    )(command)


class _KeyValue(click.ParamType[tuple[str, str]]):
    name = "KEY=VALUE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        key, equals, rest = str(value).partition("=")
        if not equals or not key:
            self.fail("expected KEY=VALUE (a name, '=', then the value)", param, ctx)
        return key, rest


@contextmanager
def usage_errors() -> Iterator[None]:
    """The library's checks of settings, as usage errors (exit 2)."""
    try:
        yield
    except ValueError as err:
        raise click.UsageError(str(err)) from None


def root_certificates(tls_ca: Path | None) -> bytes | None:
    """The PEM certificates of ``--tls-ca``, checked, a bad file a usage error naming the option."""
    if tls_ca is None:
        return None
    pem = tls_ca.read_bytes()
    with usage_errors():  # here, so that the message says --tls-ca
        check_root_certificates(pem, spelling=CLI_SPELLING)
    return pem


def resource_attributes(pairs: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """``--resource`` pairs as the client's resource attributes; a name given twice is refused."""
    attributes: dict[str, str] = {}
    for key, value in pairs:
        if key in attributes:
            raise click.BadParameter(f"{key!r} is given twice", param_hint="'--resource'")
        attributes[key] = value
    return attributes


def _read_token(path: Path) -> str:
    """The token a ``--token-file`` holds: its text, less one trailing newline."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise click.BadParameter("is not UTF-8 text", param_hint="'--token-file'") from None
    token = text.removesuffix("\n").removesuffix("\r")
    if not token:
        raise click.BadParameter("holds no token", param_hint="'--token-file'")
    if token != token.strip():
        # Said without the token: the file holds a secret.
        raise click.BadParameter(
            "the token has whitespace around it (only one trailing newline is taken off)",
            param_hint="'--token-file'",
        )
    return token


def credentials(
    token: str | None, token_file: Path | None, basic: str | None
) -> tuple[str | None, str | None]:
    """The token and basic credentials to use, checked; the command line beats the environment.

    ``CONFIGHUB_TOKEN`` and ``CONFIGHUB_BASIC`` count only when no credential option is
    given; messages name where a credential came from, never what it is.
    """
    ctx = click.get_current_context()
    from_env = {
        name
        for name in ("token", "basic")
        if ctx.get_parameter_source(name) is ParameterSource.ENVIRONMENT
    }
    on_command_line = (
        token_file is not None
        or (token is not None and "token" not in from_env)
        or (basic is not None and "basic" not in from_env)
    )
    if on_command_line:
        token = None if "token" in from_env else token
        basic = None if "basic" in from_env else basic
        from_env.clear()
    if token is not None and token_file is not None:
        raise click.UsageError("give --token or --token-file, not both")
    spelling = CLI_SPELLING._replace(
        token="--token-file" if token_file else TOKEN_ENV if "token" in from_env else "--token",
        basic=BASIC_ENV if "basic" in from_env else CLI_SPELLING.basic,
    )
    if token_file is not None:
        token = _read_token(token_file)
    with usage_errors():
        check_credentials(token, basic, spelling=spelling)
    return token, basic


def credential_options(verb: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--token``, ``--token-file`` and ``--basic``; ``verb`` is Send (a client) or Require."""

    def add(command: Callable[..., Any]) -> Callable[..., Any]:
        options = [
            click.option(
                "--token",
                envvar=TOKEN_ENV,
                show_envvar=True,
                help=f"{verb} 'authorization: Bearer TOKEN'.",
            ),
            click.option(
                "--token-file",
                type=FILE,
                help="Read the token from this file (one trailing newline is taken off).",
            ),
            click.option(
                "--basic",
                metavar="USER:PASS",
                envvar=BASIC_ENV,
                show_envvar=True,
                help=f"{verb} HTTP basic credentials.",
            ),
        ]
        for option in reversed(options):
            command = option(command)
        return command

    return add


def client_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """What a command that polls a server takes: pacing, targeting, credentials, TLS, an end."""
    options: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
        click.option(
            "--interval",
            type=Seconds(min=0, min_open=True),
            default=10.0,
            show_default=True,
            help="Seconds between polls.",
        ),
        click.option(
            "--hold",
            type=Seconds(min=0, min_open=True),
            help="Long poll: ask the server to hold each poll S seconds.",
        ),
        click.option(
            "--resource",
            "resource",
            type=_KeyValue(),
            multiple=True,
            help="A resource attribute the server targets tracepoints by (repeatable).",
        ),
        credential_options("Send"),
        tenant_option,
        click.option("--tls-ca", type=FILE, help="PEM root certificates: connect with TLS."),
        click.option("--count", type=click.IntRange(min=1), help="Stop after N changes."),
        click.option("--duration", type=Seconds(min=0), help="Stop after S seconds."),
    ]
    for option in reversed(options):
        command = option(command)
    return command
