"""Requests too malformed to reach the app, answered in JSON without a byte of what was sent.

aiohttp answers a request it cannot parse (a line or header past its limits, a
character a header may not hold, a broken request line) itself, before any
middleware runs, with text that quotes the offending bytes, an ``Authorization``
header among them. ``quiet(server)`` makes the ``web.Server`` an ``AppRunner``
serves with hand out request handlers whose ``handle_error`` answers as the rest
of the API does: ``{"error": ...}``, naming what was wrong and the limit, never
what was sent.

The classes of the two objects are swapped for subclasses that add no state
(``__class__`` assignment between equal layouts), because aiohttp gives no
argument for either: ``runner.server`` is public, and ``Server.__call__`` returns
the handler for each connection. A test sends such requests and reads the
answers, so an aiohttp that changes this fails that test rather than leaks.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web
from aiohttp.http_exceptions import BadStatusLine, HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler

from confighub.server._http_errors import INTERNAL_ERROR, error_response

__all__ = ["quiet"]

_MALFORMED: Final = "a malformed HTTP request: it was not read"


class _QuietHandler(RequestHandler):
    __slots__ = ()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # aiohttp's own answer first: it logs (through ProtocolLog, which keeps the words
        # out) and raises when a response has begun already.
        super().handle_error(request, status, exc, message)
        response = error_response(status, _words(status, exc))
        response.force_close()
        return response


class _QuietServer(web.Server):
    def __call__(self) -> RequestHandler:
        handler = super().__call__()
        handler.__class__ = _QuietHandler
        return handler


def quiet(server: web.Server | None) -> None:
    """Make ``server`` (a set-up runner's) answer requests it cannot parse in quiet JSON."""
    if server is None:
        raise RuntimeError("quiet() takes the server of a runner that is set up")
    server.__class__ = _QuietServer


def _words(status: int, exc: BaseException | None) -> str:
    if status >= 500:
        return INTERNAL_ERROR
    if isinstance(exc, LineTooLong):
        return f"{_MALFORMED}: a line or a header of it is too long"
    if isinstance(exc, BadStatusLine):
        return f"{_MALFORMED}: its request line is not HTTP"
    if isinstance(exc, HttpProcessingError):
        return f"{_MALFORMED}: its request line or a header is malformed"
    return _MALFORMED
