"""A small Deep ``PollConfig`` server: serve tracepoints from a store to Deep agents.

::

    with FileStore("tracepoints.yaml") as store, HubServer(store, port=43315) as server:
        ...  # agents poll server.target; edits of the file reach them

``HubServer`` answers ``PollConfig.poll`` with UPDATE or NO_CHANGE by hash,
holds polls that send the ``HOLD_METADATA_KEY`` metadata until the config
changes, serves targeted tracepoints only to matching resources, and accepts
``SnapshotService.send``. It serves from a store (``confighub.stores``, whose
``MemoryStore``, ``FileStore``, ``Store`` and ``StoreState`` are re-exported
here); any object with the ``Store`` protocol will do.

With ``http_port``, the same server also serves Deep's HTTP management API on
the same event loop (aiohttp), with the same credentials, TLS and tenants:
``GET /api/tracepoints`` answers a ``PollResponse`` (protobuf with ``Accept:
application/protobuf``, else JSON) from the bytes a poll is answered from;
``POST /api/tracepoints`` and ``PUT``, ``GET``, ``DELETE /api/tracepoints/{id}``
write and read tracepoints through a ``WritableStore``, each answer carrying the
config hash as its ``ETag`` and each write honouring ``If-Match``; ``/api/echo``,
``/healthz`` and ``/readyz`` answer without credentials. Every refusal is JSON
``{"error": ...}``. The routes live under ``http_prefix``, and the API under
Deep's ``/tracepoints/api`` too.

Targeting: a tracepoint whose ``targeting`` is empty goes to every client;
otherwise to clients whose resource attributes match every targeting key. A
scalar matches an equal attribute of the same kind (``"2"`` is not ``2``), a
list matches any of its items, a mapping matches a key-value-list attribute key
by key, and an array attribute matches when any of its items does (details in
``confighub.server._targeting``).

Bounds: clients choose what they send, so the server bounds what it costs. A
poll request is at most ``max_poll_size`` bytes (64 KiB), checked before it is
parsed, with at most 128 resource attributes whose keys and values are at most
1 KiB each; a bigger or malformed request ends ``INVALID_ARGUMENT``. At most
``max_views`` views (256) are cached. Refused calls and new agents are logged on
``confighub.server``, a few lines and then a count per 10 s.
"""

from __future__ import annotations

from confighub._wire.keys import HOLD_METADATA_KEY
from confighub.server._fleet import AgentEvent, AgentInfo
from confighub.server._hub_server import DEFAULT_MAX_MESSAGE_SIZE, HubServer, ServerStats
from confighub.stores import FileStore, MemoryStore, Store, StoreState

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "HOLD_METADATA_KEY",
    "AgentEvent",
    "AgentInfo",
    "FileStore",
    "HubServer",
    "MemoryStore",
    "ServerStats",
    "Store",
    "StoreState",
]
