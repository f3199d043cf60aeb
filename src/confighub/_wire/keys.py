"""The gRPC metadata keys confighub reads and sends, and its one extension of the protocol.

The long poll: a client that sends ``(HOLD_METADATA_KEY, "<seconds>")`` with
its hash current asks the server to hold the poll until the config that client
would get changes, or until the hold (capped by the server) ends; then the
server answers NO_CHANGE. The client's deadline is the hold plus a margin. A
server that does not know the key (a Deep server) answers at once, and a client
that does not send it (a Deep agent) is answered at once: the two sides
interoperate with plain Deep peers either way.
"""

from __future__ import annotations

from typing import Final

__all__ = ["AUTHORIZATION_KEY", "HOLD_METADATA_KEY"]

HOLD_METADATA_KEY: Final = "confighub-hold"
"""The gRPC metadata key of a long poll; its value is the hold in seconds, as text."""

AUTHORIZATION_KEY: Final = "authorization"
"""The gRPC metadata key of credentials: ``Bearer <token>`` or ``Basic <base64>``."""
