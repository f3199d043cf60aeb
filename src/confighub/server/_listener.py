"""Where and how ``HubServer`` listens: its address, its TLS credentials, and why a bind failed.

When gRPC cannot bind an address it raises (or returns port 0) with a message
that only points at its own debug log, where the reason (``Address already in
use``) went. ``bind_failure`` asks the operating system instead: it binds a
plain socket the way gRPC's listener would and returns what that bind said.

TLS material is read and checked when the server is built, not when it binds, so
that a key that does not belong to its certificate is refused as that, by
``check_tls_pair``, instead of surfacing later as a failure to bind.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import grpc

from confighub._wire.credentials import check_tls_pair

__all__ = ["TlsSetting", "bind_failure", "join", "tls_credentials"]

TlsSetting = bytes | str | os.PathLike[str] | None
"""A certificate or key: PEM contents as ``bytes``, the path of a PEM file, or None."""


def tls_credentials(cert: TlsSetting, key: TlsSetting) -> Any:
    """The gRPC server credentials for ``cert`` and ``key``, or None without TLS.

    ``check_tls_pair`` refuses them (``ValueError`` or ``TypeError``, naming the
    setting) unless both or neither are given, both PEM, and the key that of the
    certificate.
    """
    check_tls_pair(cert, key)
    if cert is None or key is None:
        return None
    return grpc.ssl_server_credentials([(_contents(key), _contents(cert))])


def bind_failure(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be bound for listening now, or None if it can."""
    try:
        addresses = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as err:
        return f"cannot resolve the host: {err.strerror}"
    except (OSError, UnicodeError, ValueError) as err:
        return str(err)
    for family, kind, protocol, _, address in addresses:
        try:
            with socket.socket(family, kind, protocol) as probe:
                # As gRPC's listener does: a port held only by closed connections is free.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(address)
        except OSError as err:
            return err.strerror or str(err)
    return None


def join(host: str, port: int) -> str:
    """``host:port``, with an IPv6 literal in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _contents(value: bytes | str | os.PathLike[str]) -> bytes:
    # Checked by check_tls_pair already: bytes are PEM contents, anything else a path.
    return value if isinstance(value, bytes) else Path(value).read_bytes()
