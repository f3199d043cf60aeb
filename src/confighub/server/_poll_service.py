"""The RPC handlers of ``HubServer``: ``PollConfig.poll``, long polls, ``SnapshotService.send``.

Everything here runs on the server's event loop, so its state needs no lock.
A held poll is a suspended coroutine waiting on one future shared by every
held poll of its tenant: a change of the tenant's config resolves that future
(waking them all at once) and puts a fresh one in its place.

Request bodies arrive as bytes: a call's credentials are checked before its body
is parsed, and a body is parsed only once its size is known to be bounded
(``confighub.server._requests``). Every refusal is answered with a status of its
own, never an exception's traceback, and noted in the audit log.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, NamedTuple, NoReturn, Protocol

import grpc
from deepproto.proto.tracepoint.v1 import tracepoint_pb2

from confighub._internal.text import counted, shown
from confighub._wire.keys import AUTHORIZATION_KEY, HOLD_METADATA_KEY
from confighub._wire.tenants import DEFAULT_TENANT, TENANT_METADATA_KEY
from confighub.server._audit import Audit
from confighub.server._auth import Authenticator
from confighub.server._requests import BadRequest, parse_poll, parse_snapshot
from confighub.server._tenants import Tenant, TenantLimit, TenantRefused, Tenants, requested_tenant
from confighub.server._views import TS_FIELD_SIZE, View, resource_key, ts_field

__all__ = ["AnsweredPoll", "PollObserver", "PollService"]

logger = logging.getLogger("confighub")

# Answer a held poll this long before the client's deadline, so the NO_CHANGE
# reaches it before the client gives up on the call.
_DEADLINE_MARGIN: Final = 0.25
_TENANT_NAMED: Final = f"{TENANT_METADATA_KEY} metadata"
_NO_CONFIG: Final = (
    "this server has no config to serve yet (its store was never seeded, or lost its data"
    " before this server read it); keep the tracepoints you have and poll again"
)
_SNAPSHOT_RESPONSE: Final[bytes] = tracepoint_pb2.SnapshotResponse().SerializeToString()
# An UPDATE of this many bytes or more is stamped once for the polls answered within
# _STAMP_SHARED of each other (those one change woke): copying a large body behind a
# fresh ts_nanos for each cost more than the rest of the answer. A ts a millisecond old
# is still the time the answer was made.
_SHARE_STAMP_AT: Final = 64 * 1024
_STAMP_SHARED: Final = 1_000_000


def _as_is(body: bytes) -> bytes:
    return body


def _unstamp(view: View, answer: bytes) -> None:
    stamped = view.stamped
    if stamped is not None and stamped[1] is answer:
        view.stamped = None


class AnsweredPoll(NamedTuple):
    """A poll as answered, for a ``PollObserver``."""

    tenant: str
    peer: str
    """The peer as gRPC names it, ``ipv4:127.0.0.1:50000`` for example."""
    key: bytes
    """The client's resource, serialized (``resource_key``)."""
    held: str
    """The hash the client said it holds."""
    view: View
    """The view it was answered from: NO_CHANGE if ``held`` is its hash, else UPDATE."""
    started: int
    """When the poll arrived, in ``time.monotonic_ns()``."""
    hold: float
    """How long the poll waited for a change, in seconds (0 if it was answered at once)."""


class PollObserver(Protocol):
    """Told of every poll answered (the fleet view, the metrics); must be quick."""

    def holding(self, poll: AnsweredPoll) -> None:
        """``poll`` holds its view's hash and is about to be held (``poll.hold`` is 0)."""
        ...

    def polled(self, poll: AnsweredPoll) -> None:
        """``poll`` was answered (or is about to be, with its UPDATE body still to make)."""
        ...


class PollService:
    """Serves each tenant's config to pollers and hands snapshots to ``on_snapshot``."""

    def __init__(
        self,
        tenants: Tenants,
        *,
        authenticator: Authenticator | None,
        max_hold: float,
        max_message_size: int,
        max_poll_size: int,
        on_snapshot: Callable[[Any], object] | None,
        observers: Sequence[PollObserver] = (),
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.tenants = tenants
        self._authenticator = authenticator
        self._max_hold = max_hold
        self._max_message_size = max_message_size
        self._max_poll_size = max_poll_size
        self._on_snapshot = on_snapshot
        self._observers = tuple(observers)
        self._clock = clock
        self._audit = Audit()
        self._closing = False
        self.polls = 0
        self.holds = 0
        self.held = 0
        self.snapshots = 0
        self.refusals = 0

    @property
    def serializations(self) -> int:
        """How many response bodies were serialized so far."""
        return sum(tenant.views.serializations for tenant in self.tenants)

    @property
    def views(self) -> int:
        """How many views are cached now."""
        return sum(len(tenant.views) for tenant in self.tenants)

    def handlers(self) -> tuple[Any, ...]:
        """The generic RPC handlers to add to a ``grpc.aio`` server."""
        # No request deserializer: the bodies come as bytes, parsed once they pass the checks.
        poll = grpc.unary_unary_rpc_method_handler(self.poll, response_serializer=_as_is)
        send = grpc.unary_unary_rpc_method_handler(self.send, response_serializer=_as_is)
        return (
            grpc.method_handlers_generic_handler(
                "deepproto.proto.poll.v1.PollConfig", {"poll": poll}
            ),
            grpc.method_handlers_generic_handler(
                "deepproto.proto.tracepoint.v1.SnapshotService", {"send": send}
            ),
        )

    def open(self, loop: asyncio.AbstractEventLoop) -> None:
        """Bind to the server's event loop; call on it before serving."""
        self._audit.start(loop)

    def close(self) -> None:
        """Answer every held poll now (NO_CHANGE unless its config changed) and hold no more."""
        self._closing = True
        self.tenants.close()
        self._audit.stop()

    async def poll(self, body: bytes, context: Any) -> bytes:
        """Answer a ``PollRequest``: UPDATE, NO_CHANGE, or hold it first if the client asked."""
        started = time.monotonic_ns()
        metadata = context.invocation_metadata() or ()
        await self._authenticate(metadata, context)
        tenant = await self._tenant(metadata, context)
        hold = await self._hold_time(metadata, context)
        request = await self._parsed(lambda: parse_poll(body, self._max_poll_size), context)
        self.polls += 1
        # Serialized once: the audit, the targeting matches and the view all key on it.
        key = resource_key(request.resource)
        peer = context.peer()
        self._audit.polled(peer, request.resource, key)
        tenant.refresh()
        gate = tenant.gate
        if gate is not None and not getattr(gate, "holds_config", True):
            # Not an empty config, which would make the agent drop every tracepoint it has.
            await context.abort(grpc.StatusCode.UNAVAILABLE, _NO_CONFIG)
        views = tenant.views
        await views.prepare(request.resource, key)
        view = views.view_for(request.resource, key)
        held = request.current_hash
        held_for = 0.0
        if view.hash == held and hold > 0:
            if self._observers:
                # Told now, not only when answered: a held client holds the current config.
                holding = AnsweredPoll(tenant.name, peer, key, held, view, started, 0.0)
                for observer in self._observers:
                    observer.holding(holding)
            waited = time.monotonic_ns()
            view = await self._held(tenant, request, key, view, hold)
            held_for = (time.monotonic_ns() - waited) / 1e9
        if self._observers:
            answered = AnsweredPoll(tenant.name, peer, key, held, view, started, held_for)
            for observer in self._observers:
                observer.polled(answered)
        if view.hash == held:
            return ts_field(self._clock()) + view.no_change
        body = await views.update_body(view)
        if len(body) + TS_FIELD_SIZE > self._max_message_size:
            await self._refuse_too_large(view, len(body) + TS_FIELD_SIZE, context)
        return self._stamped(view, body)

    async def _tenant(self, metadata: Sequence[tuple[str, Any]], context: Any) -> Tenant:
        tenants = self.tenants
        if not tenants.multitenant:  # every call is the one config: no metadata to read
            return tenants.get(DEFAULT_TENANT)
        values = [value for key, value in metadata if key == TENANT_METADATA_KEY]
        try:
            name = requested_tenant(values, multitenant=True, named=_TENANT_NAMED)
            return tenants.get(name)
        except TenantRefused as err:
            code = (
                grpc.StatusCode.UNAUTHENTICATED if err.missing else grpc.StatusCode.INVALID_ARGUMENT
            )
            await self._refuse(context, code, str(err))
        except TenantLimit as err:
            await self._refuse(context, grpc.StatusCode.RESOURCE_EXHAUSTED, str(err))

    def _stamped(self, view: View, update: bytes) -> bytes:
        now = self._clock()
        if len(update) < _SHARE_STAMP_AT:
            return ts_field(now) + update
        stamped = view.stamped
        if stamped is not None and 0 <= now - stamped[0] < _STAMP_SHARED:
            return stamped[1]
        answer = ts_field(now) + update
        view.stamped = (now, answer)
        # Let go of the copy once it is too old to share: a view holds one body, not two.
        asyncio.get_running_loop().call_later(2 * _STAMP_SHARED / 1e9, _unstamp, view, answer)
        return answer

    async def _held(
        self, tenant: Tenant, request: Any, key: bytes, view: View, hold: float
    ) -> View:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + hold
        self.holds += 1
        self.held += 1
        try:
            while not self._closing:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                # asyncio.wait, unlike wait_for, never cancels the shared future on timeout.
                done, _ = await asyncio.wait((tenant.changed,), timeout=remaining)
                if not done:
                    break
                views = tenant.views
                await views.prepare(request.resource, key)
                view = views.view_for(request.resource, key)
                if view.hash != request.current_hash:
                    break
        finally:
            self.held -= 1
        return view

    async def _hold_time(self, metadata: Sequence[tuple[str, Any]], context: Any) -> float:
        values = [value for key, value in metadata if key == HOLD_METADATA_KEY]
        if not values:
            return 0.0
        value = values[-1]
        try:
            hold = float(value)
        except ValueError:
            hold = math.nan
        if not hold >= 0:
            await self._refuse(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"'{HOLD_METADATA_KEY}' metadata must be a number of seconds >= 0,"
                f" got {shown(value, 40)}",
            )
        hold = min(hold, self._max_hold)
        remaining = context.time_remaining()
        if remaining is not None:
            hold = min(hold, max(0.0, remaining - _DEADLINE_MARGIN))
        return hold

    async def _authenticate(self, metadata: Sequence[tuple[str, Any]], context: Any) -> None:
        if self._authenticator is None:
            return
        headers = [value for key, value in metadata if key == AUTHORIZATION_KEY]
        refusal = self._authenticator.refusal(headers)
        if refusal is not None:
            await self._refuse(context, grpc.StatusCode.UNAUTHENTICATED, refusal)

    async def _parsed(self, parse: Callable[[], Any], context: Any) -> Any:
        try:
            return parse()
        except BadRequest as err:
            await self._refuse(context, grpc.StatusCode.INVALID_ARGUMENT, str(err))

    async def _refuse(self, context: Any, code: grpc.StatusCode, reason: str) -> NoReturn:
        self.refusals += 1
        self._audit.refused(context.peer(), reason)
        await context.abort(code, reason)
        raise AssertionError("context.abort returned")  # it raises, to end the call

    async def _refuse_too_large(self, view: View, size: int, context: Any) -> None:
        message = (
            f"the config for this client ({counted(len(view.tracepoints), 'tracepoint')},"
            f" hash {view.hash})"
            f" is {size} bytes, over the server's max_message_size of {self._max_message_size};"
            " raise max_message_size (and the client's receive limit) or serve fewer tracepoints"
        )
        if not view.too_large_logged:
            view.too_large_logged = True
            logger.error("%s", message)
        await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, message)

    async def send(self, body: bytes, context: Any) -> bytes:
        """Accept a ``Snapshot`` from an agent and hand it to ``on_snapshot``."""
        metadata = context.invocation_metadata() or ()
        await self._authenticate(metadata, context)
        await self._tenant(metadata, context)
        snapshot = await self._parsed(lambda: parse_snapshot(body), context)
        self.snapshots += 1
        if self._on_snapshot is not None:
            try:
                self._on_snapshot(snapshot)
            except Exception:
                logger.exception("on_snapshot callback %r raised", self._on_snapshot)
        return _SNAPSHOT_RESPONSE
