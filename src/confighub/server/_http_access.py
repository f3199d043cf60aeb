"""Who may call the HTTP API, and as which tenant: the checks gRPC makes, on headers.

A request's ``Authorization`` header is checked by the same ``Authenticator`` as
a poll's metadata, and its tenant is named by ``X-Scope-OrgID`` under the same
rules (``requested_tenant``), so the two sides of the server cannot disagree on
who is let in. A refusal is a 401 with ``WWW-Authenticate`` naming the schemes
the server takes, and never repeats what was sent; refusals are noted in the
audit log, rate-limited, as gRPC's are. ``ServerStats.auth_failures`` counts
both sides: the 401s here, and the gRPC refusals that ``CountingAuthenticator``
counts as it checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aiohttp import web

from confighub._wire.tenants import TENANT_HEADER
from confighub.server._audit import Audit
from confighub.server._auth import Authenticator
from confighub.server._http_errors import ApiError
from confighub.server._tenants import Tenant, TenantLimit, TenantRefused, Tenants, requested_tenant

__all__ = ["CountingAuthenticator", "HttpAccess"]


class CountingAuthenticator(Authenticator):
    """An ``Authenticator`` that counts the calls it refuses (``refused``)."""

    refused = 0

    def refusal(self, headers: Sequence[str]) -> str | None:
        """Why a call is refused, as ``Authenticator.refusal`` says; counted."""
        said = super().refusal(headers)
        if said is not None:
            self.refused += 1
        return said


class HttpAccess:
    """The credentials and tenant checks of HTTP requests; ``auth_failures`` counts the 401s."""

    def __init__(
        self, tenants: Tenants, *, token: str | None, basic: str | None, audit: Audit
    ) -> None:
        self._tenants = tenants
        self._audit = audit
        self._authenticator = None
        if token is not None or basic is not None:
            self._authenticator = Authenticator(
                token=token, basic=basic, carried_in="'Authorization' header"
            )
        schemes = [name for name, given in (("Bearer", token), ("Basic", basic)) if given]
        self._challenge = ", ".join(f'{scheme} realm="confighub"' for scheme in schemes)
        self.auth_failures = 0

    def authenticate(self, request: web.Request) -> None:
        """Raise ``ApiError`` 401 unless the request's credentials are the server's."""
        if self._authenticator is None:
            return
        refusal = self._authenticator.refusal(request.headers.getall("Authorization", []))
        if refusal is not None:
            raise self._unauthorized(request, refusal, {"WWW-Authenticate": self._challenge})

    def tenant(self, request: web.Request) -> Tenant:
        """The tenant the request names; ``ApiError`` 401 (none named), 400 or 503 if refused."""
        values = request.headers.getall(TENANT_HEADER, [])
        try:
            name = requested_tenant(
                values, multitenant=self._tenants.multitenant, named=f"{TENANT_HEADER} header"
            )
            return self._tenants.get(name)
        except TenantRefused as err:
            if err.missing:
                raise self._unauthorized(request, str(err)) from None
            raise ApiError(400, str(err)) from None
        except TenantLimit as err:
            raise ApiError(503, str(err)) from None

    def _unauthorized(
        self, request: web.Request, reason: str, headers: Mapping[str, str] | None = None
    ) -> ApiError:
        self.auth_failures += 1
        self._audit.refused(f"http:{request.remote or 'unknown'}", reason)
        return ApiError(401, reason, headers)
