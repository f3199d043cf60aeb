"""The one set of rules for credentials and TLS settings, for the client, the server and the CLI.

A bearer ``token`` must not be empty, nor start or end with whitespace (a
newline from a file could never match), nor hold a character a gRPC header
cannot carry; ``basic`` credentials are ``user:password`` (a ``:`` is required),
with no surrounding whitespace either. A client sends one of them; a server may
accept either. A server's TLS needs both a certificate chain and its key, or
neither: both PEM, and the key must belong to the first certificate. A client's
root certificates are PEM holding at least one certificate. Each check raises
``ValueError`` (``TypeError`` for a value of the wrong type) with a message that
spells the settings the way the caller does (``token`` in the library,
``--token`` on the command line) and never quotes a credential or a key.
"""

from __future__ import annotations

import base64
import os
import re
import ssl
import tempfile
from typing import Final, NamedTuple

from confighub._internal.text import cut, shown
from confighub._wire.keys import AUTHORIZATION_KEY

__all__ = [
    "CLI_SPELLING",
    "LIBRARY_SPELLING",
    "Spelling",
    "authorization_metadata",
    "check_credentials",
    "check_root_certificates",
    "check_tls_pair",
    "server_ssl_context",
]


class Spelling(NamedTuple):
    """How the settings are named in messages."""

    token: str
    basic: str
    basic_form: str
    tls_cert: str
    tls_key: str
    tls_ca: str = "root_certificates"


LIBRARY_SPELLING: Final = Spelling("token", "basic", "'user:password'", "tls_cert", "tls_key")
CLI_SPELLING: Final = Spelling(
    "--token", "--basic", "USER:PASS", "--tls-cert", "--tls-key", "--tls-ca"
)

_CERTIFICATE: Final = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----", re.DOTALL
)
_PRIVATE_KEY: Final = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
_KEY_MISMATCH: Final = "KEY_VALUES_MISMATCH"


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
    if token is not None:
        _check_secret(token, spelling.token)
        # The token goes into the header as it is (basic credentials are base64): grpc
        # refuses every call whose header holds anything but printable ASCII.
        if not all(" " <= char <= "~" for char in token):
            raise ValueError(
                f"{spelling.token} holds a character that a gRPC header cannot carry"
                " (only printable ASCII)"
            )
    if basic is not None:
        _check_secret(basic, spelling.basic)
        if ":" not in basic:
            raise ValueError(f"{spelling.basic} must be {spelling.basic_form} (no ':' found)")


def _check_secret(secret: object, name: str) -> None:
    # No message here may quote the secret, not even in part: it ends up in logs.
    if not isinstance(secret, str):
        raise TypeError(f"{name} must be a str, not {type(secret).__name__}")
    if not secret:
        raise ValueError(f"{name} must not be empty")
    if secret != secret.strip():
        raise ValueError(f"{name} has leading or trailing whitespace (a newline from a file?)")
    if any(char < " " or char == "\x7f" for char in secret):
        raise ValueError(f"{name} holds a control character (a line break inside?)")


def check_root_certificates(pem: object, *, spelling: Spelling = LIBRARY_SPELLING) -> None:
    """Check that ``pem`` (bytes) holds at least one PEM certificate that TLS can load."""
    if not isinstance(pem, bytes):
        raise TypeError(
            f"{spelling.tls_ca} must be bytes (the PEM contents), not {type(pem).__name__}"
        )
    _load_certificates(pem, spelling.tls_ca)


def _load_certificates(pem: bytes, name: str) -> None:
    # Only the certificate blocks go to ssl: a bundle's comments may not be ASCII.
    blocks = _CERTIFICATE.findall(pem)
    if not blocks:
        raise ValueError(
            f"{name} holds no PEM certificate: expected a '-----BEGIN CERTIFICATE-----' block"
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cadata=b"\n".join(blocks).decode("ascii"))
    except (ssl.SSLError, UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"{name} holds a certificate that cannot be read: {_why(err)}") from None


def check_tls_pair(cert: object, key: object, *, spelling: Spelling = LIBRARY_SPELLING) -> None:
    """Check a server's TLS settings: both or neither, PEM, and the key of the certificate.

    ``cert`` and ``key`` are each None, PEM contents as bytes, or a file path
    (``str`` or ``os.PathLike``). ``TypeError`` for PEM text passed as a str or
    a value of another type; ``ValueError`` for one without the other, a file
    that cannot be read, a certificate that is not PEM, a key that is not a PEM
    private key or is encrypted, and a key that does not belong to the first
    certificate of the chain.
    """
    _checked_pair(cert, key, spelling)


def server_ssl_context(
    cert: object, key: object, *, spelling: Spelling = LIBRARY_SPELLING
) -> ssl.SSLContext:
    """A TLS server context holding ``cert`` and ``key``, checked as ``check_tls_pair`` does.

    It is the context the check loads the pair into, so a server's HTTP listener
    serves exactly what the check accepted. ``ValueError`` if neither is given.
    """
    context = _checked_pair(cert, key, spelling)
    if context is None:
        raise ValueError(f"a TLS context needs {spelling.tls_cert} and {spelling.tls_key}")
    return context


def _checked_pair(cert: object, key: object, spelling: Spelling) -> ssl.SSLContext | None:
    if (cert is None) != (key is None):
        raise ValueError(f"TLS needs both {spelling.tls_cert} and {spelling.tls_key}, or neither")
    if cert is None:
        return None
    chain, private = _read_pem(cert, spelling.tls_cert), _read_pem(key, spelling.tls_key)
    _load_certificates(chain, spelling.tls_cert)
    if not _PRIVATE_KEY.search(private):
        raise ValueError(
            f"{spelling.tls_key} holds no private key:"
            " expected a '-----BEGIN ... PRIVATE KEY-----' block"
        )
    return _load_pair(chain, private, spelling)


def _read_pem(value: object, name: str) -> bytes:
    if isinstance(value, bytes):
        pem = value
    elif isinstance(value, str) and value.lstrip().startswith("-----BEGIN"):
        raise TypeError(f"{name} looks like PEM text: pass PEM contents as bytes, or a file path")
    elif isinstance(value, str | os.PathLike):
        try:
            with open(value, "rb") as file:
                pem = file.read()
        except OSError as err:
            raise ValueError(
                f"{name}: cannot read {shown(os.fspath(value))}: {err.strerror or err}"
            ) from None
    else:
        raise TypeError(
            f"{name} must be PEM contents (bytes) or a file path, not {type(value).__name__}"
        )
    if b"-----BEGIN" not in pem:
        raise ValueError(f"{name} is not PEM: expected a '-----BEGIN ...-----' block")
    return pem


class _Encrypted(Exception):
    """The key asked for a password: grpc has no way to give one."""


def _no_password() -> bytes:
    raise _Encrypted


def _load_pair(chain: bytes, private: bytes, spelling: Spelling) -> ssl.SSLContext:
    # ssl loads a chain and key only from files: they live in a directory only this user
    # may enter (mkdtemp makes it 0700), as files only this user may read, for the check.
    with tempfile.TemporaryDirectory(prefix="confighub-tls-") as folder:
        paths = []
        for name, content in (("cert.pem", chain), ("key.pem", private)):
            path = os.path.join(folder, name)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as file:
                file.write(content)
            paths.append(path)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            context.load_cert_chain(paths[0], paths[1], password=_no_password)
        except _Encrypted:
            raise ValueError(
                f"{spelling.tls_key} is encrypted: give the private key unencrypted"
            ) from None
        except ssl.SSLError as err:
            if err.reason == _KEY_MISMATCH:
                raise ValueError(
                    f"{spelling.tls_key} does not belong to {spelling.tls_cert}: the private key"
                    " does not match the public key of the chain's first certificate"
                ) from None
            raise ValueError(
                f"{spelling.tls_key} cannot be read as a private key: {_why(err)}"
            ) from None
    return context


def _why(error: Exception) -> str:
    # OpenSSL's words name the failing step, never the bytes it was given.
    if isinstance(error, ssl.SSLError):
        return cut(f"{error.library or 'SSL'}: {error.reason or error}")
    return cut(str(error))


def authorization_metadata(token: str | None, basic: str | None) -> tuple[tuple[str, str], ...]:
    """The gRPC metadata a client sends for a bearer ``token`` or ``basic`` ``user:password``."""
    check_credentials(token, basic)
    if token is not None:
        return ((AUTHORIZATION_KEY, f"Bearer {token}"),)
    if basic is not None:
        encoded = base64.b64encode(basic.encode()).decode("ascii")
        return ((AUTHORIZATION_KEY, f"Basic {encoded}"),)
    return ()
