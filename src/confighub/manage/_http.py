"""One bounded HTTP call of the management API, and the rules for the server's URL.

The client is synchronous on the standard library's ``urllib.request``: a command
line makes a handful of calls one after another, and needs no event loop for them.
Every way a call can fail ends as one ``ManagementError`` naming the method and the
URL, which never holds a credential (``check_server_url`` refuses one in the URL,
and credentials travel only in the ``Authorization`` header). Answers are read
within a bound, and redirects are not followed: urllib would send the credentials
along to wherever the redirect points. Proxies come from the environment
(``https_proxy``, ``no_proxy``, ...), as for any urllib client.
"""

from __future__ import annotations

import json
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from email.message import Message
from typing import Any, Final, NamedTuple

from confighub._internal.text import cut, shown
from confighub._internal.urls import shown_url
from confighub.exceptions import ManagementError

__all__ = ["MAX_ANSWER_BYTES", "Answer", "Caller", "check_server_url", "etag_hash"]

MAX_ANSWER_BYTES: Final = 64 * 1024 * 1024
"""The largest answer read: a config of many thousand tracepoints fits many times over."""

_MAX_ERROR_BYTES: Final = 64 * 1024
"""An error's body is one short message: no more of it is read."""

_HINT: Final = "is a HubServer serving its HTTP API there (serve --http-port), at this URL?"
_SAID: Final = ((TimeoutError, "no answer in time"), (ConnectionRefusedError, "connection refused"))


def check_server_url(url: object) -> str:
    """The base URL of a server's management API, checked; raise ``ValueError`` saying why.

    It must be ``http://`` or ``https://``, name a host (and a port from 0 to 65535
    if any), and may end in a path (the server's ``http_prefix``) but carry no query
    or fragment. Credentials in it (``user:pass@``) are refused without being
    shown: they belong in a token or basic credentials, which no message quotes.
    Returns the URL without a trailing ``/``.
    """
    if not isinstance(url, str):
        raise TypeError(f"a server URL is a string, got {type(url).__name__}")
    parts = urllib.parse.urlsplit(url.strip())
    if "@" in parts.netloc:
        raise ValueError(
            "the server URL holds credentials (USER:PASS@HOST), which are not shown here:"
            " give the URL without them, and a token or basic credentials instead"
        )
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"{shown_url(url)} is not a server URL: give http://HOST:PORT or https://…"
        )
    if not parts.hostname:
        raise ValueError(f"{shown_url(url)} names no host: give http://HOST:PORT")
    try:
        parts.port  # noqa: B018 - urllib checks the port only when it is read
    except ValueError:
        raise ValueError(f"{shown_url(url)}: the port is not a number from 0 to 65535") from None
    if parts.query or parts.fragment or url.strip().endswith(("?", "#")):
        raise ValueError(f"{shown_url(url)}: a server URL has no query (?…) or fragment (#…)")
    return f"{parts.scheme.lower()}://{parts.netloc}{parts.path.rstrip('/')}"


class Answer(NamedTuple):
    """A successful answer: its status, its JSON body and its ETag's hash (None if none)."""

    status: int
    body: Any
    etag: str | None


def etag_hash(headers: Message | Mapping[str, str]) -> str | None:
    """The config hash an ``ETag: "<hash>"`` header names (a weak one too), or None."""
    value = headers.get("ETag")
    if not value:
        return None
    return str(value).strip().removeprefix("W/").strip('"') or None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Leaves a redirect unfollowed: urllib then raises it as an ``HTTPError`` of its own."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Caller:
    """Makes calls under ``base`` with the same headers, TLS context and timeout."""

    def __init__(
        self,
        base: str,
        headers: Mapping[str, str],
        *,
        context: ssl.SSLContext | None,
        timeout: float,
    ) -> None:
        self.base = base
        self._headers = dict(headers)
        self._timeout = timeout
        handlers: list[urllib.request.BaseHandler] = [_NoRedirects()]
        if context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=context))
        self._opener = urllib.request.build_opener(*handlers)

    def call(
        self, method: str, path: str, body: object = None, *, if_match: str | None = None
    ) -> Answer:
        """Call ``method`` on ``base + path``, with a JSON ``body`` unless None.

        Raises ``ManagementError`` for every failure.
        """
        url = self.base + path
        named = f"{method} {url}"
        headers = {**self._headers, "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        if if_match is not None:
            # Given as the hash that list() or an ETag named, quoted or not.
            headers["If-Match"] = '"' + if_match.strip().strip('"') + '"'
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                status, raw = response.status, _bounded(response, MAX_ANSWER_BYTES, named)
                etag = etag_hash(response.headers)
        except urllib.error.HTTPError as err:
            try:
                raise _refusal(named, err) from None
            finally:
                err.close()
        except (urllib.error.URLError, OSError) as err:
            raise ManagementError(named, None, _unreachable(err)) from None
        return Answer(status, _json(raw, named, status), etag)


def _bounded(response: Any, limit: int, named: str) -> bytes:
    raw: bytes = response.read(limit + 1)
    if len(raw) > limit:
        raise ManagementError(
            named, response.status, f"the answer is larger than {limit:,} bytes: not read"
        )
    return raw


def _json(raw: bytes, named: str, status: int) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise ManagementError(
            named, status, f"the answer is not JSON ({shown(raw[:80])}); {_HINT}"
        ) from None


def _refusal(named: str, err: urllib.error.HTTPError) -> ManagementError:
    """The server's own ``{"error": "..."}`` words, or what it answered instead."""
    status = err.code
    if 300 <= status < 400:
        where = err.headers.get("Location", "")
        return ManagementError(
            named,
            status,
            f"a redirect to {shown_url(where)}, not followed (the credentials would go along):"
            " give the URL it names",
        )
    try:
        raw = err.read(_MAX_ERROR_BYTES)
    except OSError:
        raw = b""
    try:
        said = json.loads(raw).get("error")
    except (ValueError, AttributeError):
        said = None
    if isinstance(said, str) and said:
        return ManagementError(named, status, said)
    text = raw.decode("utf-8", "replace").strip()
    return ManagementError(named, status, cut(text) if text else str(err.reason))


def _unreachable(err: OSError) -> str:
    """Why no answer came, with a hint; ``URLError`` wraps the socket's or TLS's error."""
    reason: object = err.reason if isinstance(err, urllib.error.URLError) else err
    if isinstance(reason, ssl.SSLCertVerificationError):
        return (
            f"TLS: the server's certificate is not trusted ({cut(reason.verify_message or '')}):"
            " give the root certificates that sign it"
        )
    if isinstance(reason, ssl.SSLError):
        return f"TLS failed ({cut(reason.reason or str(reason))}): does the server speak https?"
    if isinstance(reason, socket.gaierror):
        return f"the host cannot be resolved ({cut(str(reason.strerror or reason))})"
    for kind, said in _SAID:
        if isinstance(reason, kind):
            return f"{said}; {_HINT}"
    words = reason.strerror if isinstance(reason, OSError) else None
    return f"{cut(words or str(reason)) or type(reason).__name__}; {_HINT}"
