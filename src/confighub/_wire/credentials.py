"""The one set of rules for credentials and TLS settings, for the client, the server and the CLI.

A bearer ``token`` must not be empty; ``basic`` credentials are ``user:password``
(a ``:`` is required). A client sends one of them; a server may accept either.
A server's TLS needs both a certificate and a key, or neither. Each check raises
``ValueError`` with a message that spells the settings the way the caller does
(``token`` in the library, ``--token`` on the command line).
"""

from __future__ import annotations

import base64
from typing import Final, NamedTuple

from confighub._wire.keys import AUTHORIZATION_KEY

__all__ = [
    "CLI_SPELLING",
    "LIBRARY_SPELLING",
    "Spelling",
    "authorization_metadata",
    "check_credentials",
    "check_tls_pair",
]


class Spelling(NamedTuple):
    """How the settings are named in messages."""

    token: str
    basic: str
    basic_form: str
    tls_cert: str
    tls_key: str


LIBRARY_SPELLING: Final = Spelling("token", "basic", "'user:password'", "tls_cert", "tls_key")
CLI_SPELLING: Final = Spelling("--token", "--basic", "USER:PASS", "--tls-cert", "--tls-key")


def check_credentials(
    token: str | None,
    basic: str | None,
    *,
    allow_both: bool = False,
    spelling: Spelling = LIBRARY_SPELLING,
) -> None:
    """Check ``token`` and ``basic``; ``ValueError`` naming the setting when one is unusable."""
    if token is not None and basic is not None and not allow_both:
        raise ValueError(
            f"give {spelling.token} or {spelling.basic}, not both:"
            " a request carries one authorization"
        )
    if token is not None and not token:
        raise ValueError(f"{spelling.token} must not be empty")
    if basic is not None and ":" not in basic:
        raise ValueError(f"{spelling.basic} must be {spelling.basic_form} (no ':' found)")


def check_tls_pair(cert: object, key: object, *, spelling: Spelling = LIBRARY_SPELLING) -> None:
    """Refuse a certificate without its key, or a key without its certificate."""
    if (cert is None) != (key is None):
        raise ValueError(f"TLS needs both {spelling.tls_cert} and {spelling.tls_key}, or neither")


def authorization_metadata(token: str | None, basic: str | None) -> tuple[tuple[str, str], ...]:
    """The gRPC metadata a client sends for a bearer ``token`` or ``basic`` ``user:password``."""
    check_credentials(token, basic)
    if token is not None:
        return ((AUTHORIZATION_KEY, f"Bearer {token}"),)
    if basic is not None:
        encoded = base64.b64encode(basic.encode()).decode("ascii")
        return ((AUTHORIZATION_KEY, f"Basic {encoded}"),)
    return ()
