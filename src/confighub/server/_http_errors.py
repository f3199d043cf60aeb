"""What each failure of the HTTP management API answers: a status and one JSON line saying why.

Every refusal is ``{"error": "<message>"}`` with a status a client can branch on,
so that a script, Grafana and a person at a terminal all read the same words. A
handler raises ``ApiError``; a store's refusal (``StoreError``) is mapped here to
its status once, for every route. The messages are the server's own words or a
confighub exception's, which are bounded and never quote a credential; what an
unexpected exception says is logged, never sent.

A request too malformed to reach the app (a line or header past aiohttp's
limits, a broken request line) is answered by aiohttp's protocol layer, in the
same JSON and without quoting it (``confighub.server._http_quiet``); ``ProtocolLog``
keeps what aiohttp would log of it (a traceback quoting the start of the
offending line, which may be an ``Authorization`` header) out of the logs, and
notes it as a refusal in the audit log instead, which rate-limits it.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from confighub.exceptions import (
    InvalidTracePoint,
    ReadOnlyStore,
    StaleConfig,
    StoreError,
    StoreUnavailable,
    TracePointExists,
    UnknownTracePoint,
)
from confighub.server._audit import Audit

__all__ = [
    "INTERNAL_ERROR",
    "ApiError",
    "ProtocolLog",
    "error_response",
    "etag",
    "store_refusal",
]

logger = logging.getLogger("confighub")

INTERNAL_ERROR: Final = "internal server error: the server logged what went wrong"
"""What a client is told of an unexpected exception: its words may hold anything."""

# The statuses of a store's refusals, most specific first (UnknownTracePoint is a
# LookupError too, StoreUnavailable a StoreError, and so on).
_STORE_STATUSES: Final[tuple[tuple[type[Exception], int], ...]] = (
    (StaleConfig, 412),
    (UnknownTracePoint, 404),
    (TracePointExists, 409),
    (ReadOnlyStore, 409),
    (StoreUnavailable, 503),
    (InvalidTracePoint, 400),
    (StoreError, 409),
)


class ApiError(Exception):
    """A refusal of a request: its HTTP ``status``, the message and any headers to send."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def etag(config_hash: str) -> str:
    """The ``ETag`` of a tenant's config: its whole hash, quoted as RFC 9110 writes a tag."""
    return f'"{config_hash}"'


def store_refusal(err: StoreError | InvalidTracePoint) -> ApiError:
    """The answer to a store's refusal of a write: 404, 409, 412 or 503, with its words."""
    status = next(code for kind, code in _STORE_STATUSES if isinstance(err, kind))
    message = str(err)
    if isinstance(err, StaleConfig):
        # The message names both hashes already; the header says which one to send back.
        return ApiError(status, message, {"ETag": etag(err.current)})
    return ApiError(status, message)


def error_response(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    """``{"error": message}`` with ``status``: the one shape of every refusal."""
    response = web.Response(
        status=status,
        body=json.dumps({"error": message}).encode(),
        content_type="application/json",
    )
    if headers:
        response.headers.update(headers)
    return response


class ProtocolLog(logging.Logger):
    """The logger aiohttp's protocol layer is given: malformed requests go to the audit log.

    aiohttp calls ``exception`` for a request it cannot parse (and for its own
    failures) and ``debug`` for noise; only its own failures reach the
    ``confighub`` logger with their traceback.
    """

    def __init__(self, audit: Audit) -> None:
        super().__init__("confighub.server.http")
        self._audit = audit

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        """A malformed request is a refusal, without its words; anything else is logged."""
        error = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
        if isinstance(error, HttpProcessingError):
            peer = args[0] if args else "unknown"
            self._audit.refused(f"http:{peer}", f"a malformed HTTP request ({error.code})")
            return
        logger.error(msg, *args, exc_info=exc_info, **kwargs)

    def debug(self, msg: object, *args: object, **kwargs: Any) -> None:
        """Log what aiohttp says at debug level, without the exception: it may quote the request."""
        kwargs.pop("exc_info", None)
        logger.debug(msg, *args, **kwargs)
