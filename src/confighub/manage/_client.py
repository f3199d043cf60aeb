"""``ManagementClient``: the tracepoints and agents of a ``HubServer``, over its HTTP API.

The server's gRPC side serves agents; its HTTP side (``HubServer(http_port=...)``)
lets people and scripts read and write the config it serves, and see which agents
hold it. Every answer carries the config's hash as its ``ETag``, and every write
may name the hash it expects (``if_match``): a write made on a config that changed
meanwhile is refused (412) instead of overwriting someone else's edit. So each
write returns the hash after it, for the next write to name. ``set`` writes the
whole config in one such step: with the hash ``list`` read, it is all or nothing.
"""

from __future__ import annotations

import base64
import builtins
import math
import ssl
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any, Final, NamedTuple

from confighub._internal.text import cut, shown
from confighub._wire.credentials import check_credentials, check_root_certificates
from confighub._wire.tenants import TENANT_HEADER, check_tenant
from confighub.exceptions import InvalidTracePoint, ManagementError
from confighub.manage._http import Answer, Caller, check_server_url
from confighub.model import TracePoint

__all__ = ["Listing", "ManagementClient", "Written"]

_TRACEPOINTS: Final = "/api/tracepoints"


class Listing(NamedTuple):
    """The config a server serves: its hash (the ``If-Match`` of a next write), its tracepoints.

    ``initialized`` is False when the server's store lost its config and waits for a
    whole one (``ManagementClient.set``) before it takes a write of one tracepoint.
    """

    hash: str
    tracepoints: tuple[TracePoint, ...]
    initialized: bool = True


class Written(NamedTuple):
    """A write done: the config's hash after it, and the tracepoint as the server holds it."""

    hash: str
    tracepoint: TracePoint


class ManagementClient:
    """Reads and writes the tracepoints a ``HubServer`` serves, through its HTTP API at ``url``.

    ``url`` is ``http://HOST:PORT`` or ``https://…``, with the server's
    ``http_prefix`` if it has one; one with credentials in it is refused
    (``ValueError``, the URL not shown). ``tenant`` names the tenant of a
    multi-tenant server (the ``X-Scope-OrgID`` header). ``token`` or ``basic``
    (``"user:pass"``) add an ``Authorization`` header; ``root_certificates``
    (PEM) are the only ones an ``https`` server's certificate is checked
    against, the system's otherwise. ``timeout`` bounds each call, in seconds.
    Every setting is checked here, so a bad one fails before any call.

    Each call blocks and raises ``ManagementError`` when it fails: ``status`` is
    the HTTP status (404: no such tracepoint, 412: the config's hash is no longer
    the ``if_match`` given), or None when no answer came. The client holds no
    connection between calls, and may be used from any thread.
    """

    def __init__(
        self,
        url: str,
        *,
        tenant: str | None = None,
        token: str | None = None,
        basic: str | None = None,
        root_certificates: bytes | None = None,
        timeout: float = 10.0,
    ) -> None:
        base = check_server_url(url)
        if not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"timeout must be > 0 and finite seconds, got {timeout!r}")
        check_credentials(token, basic)
        headers = {"User-Agent": "confighub"}
        if tenant is not None:
            headers[TENANT_HEADER] = check_tenant(tenant)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        elif basic is not None:
            headers["Authorization"] = "Basic " + base64.b64encode(basic.encode()).decode("ascii")
        context = None
        if root_certificates is not None:
            check_root_certificates(root_certificates)
            if not base.startswith("https:"):
                raise ValueError("root_certificates are for TLS: give an https:// URL")
            context = ssl.create_default_context(cadata=root_certificates.decode("ascii", "ignore"))
        self.url = base
        self.tenant = tenant
        self._caller = Caller(base, headers, context=context, timeout=timeout)

    def __repr__(self) -> str:
        tenant = f", tenant={self.tenant!r}" if self.tenant is not None else ""
        return f"ManagementClient({self.url!r}{tenant})"

    def list(self) -> Listing:
        """The config served now: its hash and its tracepoints, in the server's order."""
        answer = self._caller.call("GET", _TRACEPOINTS)
        return self._listing(answer, "GET", "response")

    def set(
        self,
        tracepoints: Iterable[TracePoint | Mapping[str, Any]],
        *,
        if_match: str | None = None,
    ) -> Listing:
        """Make ``tracepoints`` the server's whole config, in one atomic step.

        Each is a ``TracePoint`` or its JSON, as for ``create``; the ``Listing``
        holds the hash after and the tracepoints as the server stores them. An id
        used twice is refused (400), and with ``if_match`` a config changed
        meanwhile (412): either way nothing is written.
        """
        data = [tp.to_json() if isinstance(tp, TracePoint) else dict(tp) for tp in tracepoints]
        answer = self._caller.call("PUT", _TRACEPOINTS, {"tracepoints": data}, if_match=if_match)
        if "tracepoints" not in self._object(answer, "PUT", _TRACEPOINTS):
            raise self._malformed(answer, "PUT", _TRACEPOINTS, "it has no 'tracepoints'")
        return self._listing(answer, "PUT", "tracepoints")

    def get(self, tp_id: str) -> TracePoint:
        """The tracepoint ``tp_id``; ``ManagementError`` with status 404 if there is none."""
        path = _path_of(tp_id)
        answer = self._caller.call("GET", path)
        return self._field(answer, "GET", path, "tracepoint")

    def create(self, tp: TracePoint | Mapping[str, Any], *, if_match: str | None = None) -> Written:
        """Add ``tp``: a ``TracePoint``, or its JSON (``TracePoint.to_json``'s form).

        JSON without an ``ID`` gets one from the server. A tracepoint whose id is in
        use is refused (409).
        """
        data = tp.to_json() if isinstance(tp, TracePoint) else dict(tp)
        answer = self._caller.call("POST", _TRACEPOINTS, {"tracepoint": data}, if_match=if_match)
        return self._written(answer, "POST", _TRACEPOINTS, "created")

    def put(self, tp: TracePoint, *, if_match: str | None = None) -> Written:
        """Put ``tp`` in place of the tracepoint with its id, or add it if there is none."""
        path = _path_of(tp.id)
        answer = self._caller.call("PUT", path, {"tracepoint": tp.to_json()}, if_match=if_match)
        return self._written(answer, "PUT", path, "tracepoint")

    def delete(self, tp_id: str, *, if_match: str | None = None) -> Written:
        """Remove the tracepoint ``tp_id``; ``Written`` holds the one removed (404: none)."""
        path = _path_of(tp_id)
        answer = self._caller.call("DELETE", path, if_match=if_match)
        return self._written(answer, "DELETE", path, "deleted")

    def agents(self) -> builtins.list[dict[str, Any]]:
        """The agents that poll the server, one dict each, as the server's JSON has them.

        Each has ``tenant``, ``resource``, ``peer``, ``firstSeen``, ``lastSeen`` (RFC 3339),
        ``hash`` (the config it holds) and ``converged`` (whether that is its config).
        """
        answer = self._caller.call("GET", "/api/agents")
        agents = self._object(answer, "GET", "/api/agents").get("agents")
        if not isinstance(agents, builtins.list) or not all(isinstance(a, dict) for a in agents):
            raise self._malformed(answer, "GET", "/api/agents", "'agents' is not a list of objects")
        return agents

    # -- reading answers ------------------------------------------------------------------

    def _listing(self, answer: Answer, method: str, key: str) -> Listing:
        """A whole config's answer: the list under ``key``, its hash, ``initialized``.

        An empty list may be left out: protobuf's JSON mapping omits one.
        """
        body = self._object(answer, method, _TRACEPOINTS)
        entries = body.get(key, [])
        if not isinstance(entries, builtins.list):
            raise self._malformed(answer, method, _TRACEPOINTS, f"{key!r} is not a list")
        tracepoints = tuple(
            self._tracepoint(answer, method, _TRACEPOINTS, entry) for entry in entries
        )
        config_hash = answer.etag or body.get("currentHash")
        if not isinstance(config_hash, str) or not config_hash:
            raise self._malformed(answer, method, _TRACEPOINTS, "it names no config hash")
        initialized = body.get("initialized", True)
        if not isinstance(initialized, bool):
            raise self._malformed(answer, method, _TRACEPOINTS, "'initialized' is not a boolean")
        return Listing(config_hash, tracepoints, initialized)

    def _written(self, answer: Answer, method: str, path: str, key: str) -> Written:
        tracepoint = self._field(answer, method, path, key)
        if answer.etag is None:
            raise self._malformed(answer, method, path, "it has no ETag naming the config hash")
        return Written(answer.etag, tracepoint)

    def _field(self, answer: Answer, method: str, path: str, key: str) -> TracePoint:
        body = self._object(answer, method, path)
        if key not in body:
            raise self._malformed(answer, method, path, f"it has no {key!r}")
        return self._tracepoint(answer, method, path, body[key])

    def _tracepoint(self, answer: Answer, method: str, path: str, data: object) -> TracePoint:
        try:
            return TracePoint.from_json(data)
        except InvalidTracePoint as err:
            why = f"a tracepoint in it is invalid: {err}"
            raise self._malformed(answer, method, path, why) from None

    def _object(self, answer: Answer, method: str, path: str) -> dict[str, Any]:
        body = answer.body
        if not isinstance(body, dict):
            raise self._malformed(answer, method, path, f"not a JSON object: {shown(body, 80)}")
        return body

    def _malformed(self, answer: Answer, method: str, path: str, why: str) -> ManagementError:
        return ManagementError(
            f"{method} {self.url}{path}",
            answer.status,
            f"the answer is not the management API's: {cut(why)}",
        )


def _path_of(tp_id: str) -> str:
    """The path of tracepoint ``tp_id``, every reserved character percent-encoded.

    Ids may hold ``/`` (a file-format id is ``path:line``): encoded, it stays one segment.
    """
    if not isinstance(tp_id, str) or not tp_id:
        raise ValueError(f"a tracepoint id is a non-empty string, got {shown(tp_id, 80)}")
    return f"{_TRACEPOINTS}/{urllib.parse.quote(tp_id, safe='')}"
