"""Checking the ``authorization`` metadata a client sends: a bearer token or basic credentials.

Secrets are compared with ``hmac.compare_digest``, so how long a comparison takes
does not tell how much of a guess was right. The Deep Python agent's
``BasicAuthProvider`` separates the scheme with ``%20`` instead of a space; both
are accepted. Scheme names are case-insensitive (RFC 9110).

A refusal never repeats what the client sent: a client that left the scheme out
sent its secret where the scheme goes, and refusals are logged and returned to
whoever called. Only a registered scheme name is named, in its own spelling.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Sequence
from typing import Final

from confighub._wire.credentials import check_credentials
from confighub._wire.keys import AUTHORIZATION_KEY

__all__ = ["Authenticator"]

_SEPARATORS: Final = (" ", "%20")
# The IANA registry of HTTP authentication schemes: a name from it is no secret.
_REGISTERED_SCHEMES: Final = {
    name.lower(): name
    for name in (
        "Basic",
        "Bearer",
        "Concealed",
        "Digest",
        "DPoP",
        "GNAP",
        "HOBA",
        "Mutual",
        "Negotiate",
        "OAuth",
        "PrivateToken",
        "SCRAM-SHA-1",
        "SCRAM-SHA-256",
        "vapid",
    )
}


class Authenticator:
    """Accepts clients that present ``Bearer <token>`` or ``Basic base64(user:password)``.

    Either or both may be configured; ``refusal`` says why a call's headers are refused,
    naming where they come from as ``carried_in`` says (gRPC metadata, an HTTP header).
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        basic: str | None = None,
        carried_in: str = f"'{AUTHORIZATION_KEY}' metadata",
    ) -> None:
        check_credentials(token, basic, allow_both=True)
        if token is None and basic is None:
            raise ValueError("an Authenticator needs a token, basic credentials or both")
        self._carried_in = carried_in
        self._accepted: dict[str, bytes] = {}
        if token is not None:
            self._accepted["bearer"] = token.encode("utf-8")
        if basic is not None:
            self._accepted["basic"] = base64.b64encode(basic.encode("utf-8"))
        self._expected = " or ".join(
            {"bearer": "'Bearer <token>'", "basic": "'Basic <base64 of user:password>'"}[scheme]
            for scheme in self._accepted
        )

    def refusal(self, headers: Sequence[str]) -> str | None:
        """Return why a call with these ``authorization`` values is refused, or None.

        One value is expected: with several, which one counts would be a guess.
        """
        if not headers:
            return f"missing {self._carried_in}: this server expects {self._expected}"
        if len(headers) > 1:
            return f"more than one {self._carried_in}: send one, {self._expected}"
        scheme, credential = _split(headers[0])
        expected = self._accepted.get(scheme.lower())
        if expected is None:
            registered = _REGISTERED_SCHEMES.get(scheme.lower())
            named = f" {registered!r}" if registered else ""
            return f"unsupported authorization scheme{named}: this server expects {self._expected}"
        # surrogatepass: a lone surrogate, which no configured secret holds, refuses, not raises.
        if hmac.compare_digest(credential.strip().encode("utf-8", "surrogatepass"), expected):
            return None
        what = "bearer token" if scheme.lower() == "bearer" else "basic credentials"
        return f"invalid {what} in {self._carried_in}"


def _split(header: str) -> tuple[str, str]:
    header = header.strip()
    positions = [(header.find(sep), sep) for sep in _SEPARATORS if sep in header]
    if not positions:
        return header, ""
    index, sep = min(positions)
    return header[:index], header[index + len(sep) :]
