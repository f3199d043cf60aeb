"""Tenants as Deep names them: the ``X-Scope-OrgID`` header and ``x-scope-orgid`` metadata.

A tenant id is what Grafana's multi-tenant databases (and so Deep) accept: 1 to
150 characters, each a letter, a digit or one of ``!-_.*'()``, and not ``.`` or
``..``. The rule keeps an id safe as a file name, a key prefix and a log field,
and it is checked wherever an id arrives: a header, metadata, an option.
"""

from __future__ import annotations

import re
from typing import Final

from confighub._internal.text import shown

__all__ = [
    "DEFAULT_TENANT",
    "MAX_TENANT_LENGTH",
    "TENANT_HEADER",
    "TENANT_METADATA_KEY",
    "check_tenant",
]

TENANT_HEADER: Final = "X-Scope-OrgID"
"""The HTTP header that names the tenant of a request."""

TENANT_METADATA_KEY: Final = "x-scope-orgid"
"""The gRPC metadata key that names the tenant of a poll or a snapshot (lower case, as in gRPC)."""

DEFAULT_TENANT: Final = ""
"""The tenant of every request when tenancy is off: a store's own config."""

MAX_TENANT_LENGTH: Final = 150

_TENANT: Final = re.compile(r"[A-Za-z0-9!\-_.*'()]{1,150}")


def check_tenant(tenant: str) -> str:
    """Return ``tenant`` if it is a valid tenant id; raise ``ValueError`` saying why if not."""
    if not isinstance(tenant, str):
        raise TypeError(f"a tenant id is a string, got {type(tenant).__name__}")
    if _TENANT.fullmatch(tenant) is None or tenant in {".", ".."}:
        raise ValueError(
            f"invalid tenant id {shown(tenant, 60)}: use 1 to {MAX_TENANT_LENGTH} letters,"
            " digits or !-_.*'() (not '.' or '..')"
        )
    return tenant
