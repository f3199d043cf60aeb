"""Reading what a write sends: its body bounded and parsed, its id, its ``If-Match``.

A body is refused before it is read whole: a declared ``Content-Length`` over
``max_body_size`` is refused at once, and the read stops as soon as the bytes
that arrived pass it (a chunked or compressed body declares no useful length).
JSON is parsed by ``json.loads`` within ``try``: a body nested thousands of
levels deep ends in ``RecursionError``, which is the client's error like any
other malformed body. A tracepoint id in a URL is percent-decoded here, from the
raw path, because ids derived from files hold ``/`` (``shop/checkout.py:42``)
and a client may send it encoded (``%2F``) or not.
"""

from __future__ import annotations

import json
from typing import Any, Final
from urllib.parse import unquote_to_bytes

from aiohttp import web

from confighub._internal.text import shown
from confighub.server._http_errors import ApiError

__all__ = [
    "ENVELOPE_NAMES",
    "expected_hash",
    "json_body",
    "tracepoint_field",
    "tracepoints_field",
    "url_id",
]

ENVELOPE_NAMES: Final = ("tracepoint", "Tracepoint")
"""The body's one field: Grafana's datasource sends ``tracepoint``, Deep's own CLI ``Tracepoint``
(Deep decodes with Go's ``encoding/json``, which matches either)."""

_CHUNK: Final = 64 * 1024
_EXAMPLE: Final = 'send {"tracepoint": {"path": ..., "line_number": ...}}'
_CONFIG_EXAMPLE: Final = 'send {"tracepoints": [{"path": ..., "line_number": ...}, ...]}'


async def json_body(request: web.Request, max_size: int) -> object:
    """The JSON a write sends; ``ApiError`` 415, 413 or 400 if it is not JSON, too big or bad."""
    kind = request.content_type
    if kind != "application/json" and not kind.endswith("+json"):
        raise ApiError(
            415,
            f"the request body must be JSON (Content-Type: application/json),"
            f" not {shown(kind, 80)}",
        )
    declared = request.content_length
    if declared is not None and declared > max_size:
        raise ApiError(413, _too_large(max_size, f"{declared} bytes"))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > max_size:
            raise ApiError(413, _too_large(max_size, "more"))
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except RecursionError:
        raise ApiError(400, "the request body is nested too deep to be a tracepoint") from None
    except json.JSONDecodeError as err:
        raise ApiError(
            400, f"the request body is not JSON: {err.msg} (line {err.lineno} column {err.colno})"
        ) from None
    except ValueError as err:  # not UTF-8, or an integer of too many digits
        raise ApiError(400, f"the request body is not JSON: {shown(str(err), 120)}") from None


def _too_large(max_size: int, size: str) -> str:
    return (
        f"the request body is {size}, over the server's limit (max_body_size) of {max_size} bytes"
    )


def tracepoint_field(body: object) -> Any:
    """The tracepoint of a write's body ``{"tracepoint": {...}}``; ``ApiError`` 400 if none."""
    if not isinstance(body, dict):
        raise ApiError(400, f"the request body must be a JSON object: {_EXAMPLE}")
    unknown = [name for name in body if name not in ENVELOPE_NAMES]
    if unknown:
        raise ApiError(
            400, f"the request body has an unknown field {shown(unknown[0], 60)}: {_EXAMPLE}"
        )
    named = [name for name in ENVELOPE_NAMES if name in body]
    if not named:
        raise ApiError(400, f'the request body has no "tracepoint": {_EXAMPLE}')
    if len(named) > 1:
        raise ApiError(400, 'the request body has both "tracepoint" and "Tracepoint": send one')
    return body[named[0]]


def tracepoints_field(body: object) -> list[Any]:
    """The list of a whole config's body ``{"tracepoints": [...]}``; ``ApiError`` 400 if none."""
    if not isinstance(body, dict):
        raise ApiError(400, f"the request body must be a JSON object: {_CONFIG_EXAMPLE}")
    unknown = [name for name in body if name != "tracepoints"]
    if unknown:
        raise ApiError(
            400,
            f"the request body has an unknown field {shown(unknown[0], 60)}: {_CONFIG_EXAMPLE}",
        )
    if "tracepoints" not in body:
        raise ApiError(400, f'the request body has no "tracepoints": {_CONFIG_EXAMPLE}')
    entries = body["tracepoints"]
    if not isinstance(entries, list):
        raise ApiError(
            400, f'"tracepoints" must be a list, got {shown(entries, 80)}: {_CONFIG_EXAMPLE}'
        )
    return entries


def url_id(request: web.Request, base: str) -> str:
    """The tracepoint id that follows ``base`` (the route's path up to the id) in the URL."""
    # The raw path, not aiohttp's decoded one: %2F in an id must stay part of it, and be
    # decoded once. Splitting by segments, not by characters, tolerates a base whose
    # letters a client chose to percent-encode.
    segments = base.count("/")
    parts = request.rel_url.raw_path.split("/", segments + 1)
    raw = parts[segments + 1] if len(parts) > segments + 1 else ""
    try:
        tp_id = unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "the tracepoint id in the URL is not UTF-8 once decoded") from None
    if not tp_id:
        raise ApiError(404, "no tracepoint id in the URL: give /api/tracepoints/{id}")
    return tp_id


def expected_hash(request: web.Request) -> str | None:
    """The hash a write's ``If-Match`` names, or None for none or ``*`` (any config)."""
    values = request.headers.getall("If-Match", [])
    tags = [tag.strip() for value in values for tag in value.split(",") if tag.strip()]
    if not tags:
        return None
    if len(tags) > 1:
        raise ApiError(
            400, "If-Match names more than one ETag: send the one ETag of the config you read"
        )
    tag = tags[0]
    if tag == "*":
        return None
    tag = tag.removeprefix("W/")
    if len(tag) >= 2 and tag[0] == tag[-1] == '"':
        tag = tag[1:-1]
    if not tag or '"' in tag:
        raise ApiError(400, f"If-Match is not an ETag: {shown(tags[0], 80)}; send the ETag as read")
    return tag
