"""``Poller``: one ``PollConfig.poll`` call and what its response does to the hub.

It sends the hash the server gave last (``hub.server_hash``), never the
effective hash, which includes custom tracepoints. An UPDATE applies its valid
tracepoints under the server's hash; each invalid one is logged and published
on ``rejected``. Calls go out in the future form so that ``cancel()``, from
any thread, can end one in flight (a held poll) at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any, Final

import grpc
from deepproto.proto.common.v1 import common_pb2
from deepproto.proto.poll.v1 import poll_pb2
from deepproto.proto.resource.v1 import resource_pb2
from reactivex import Observable, abc

from confighub._internal.dispatch import Channel, Dispatcher
from confighub._wire.anyvalue import encode_scalar
from confighub._wire.keys import HOLD_METADATA_KEY
from confighub.exceptions import InvalidTracePoint, PollCancelled, PollFailed
from confighub.hub import ConfigHub
from confighub.model import TracePoint
from confighub.sources._results import PollResult, RejectedTracePoint

__all__ = ["Metadata", "Poller", "poll_failure", "read_update", "resource_proto"]

logger = logging.getLogger("confighub")

Metadata = tuple[tuple[str, str], ...]

_HINTS: Final = {
    "UNAUTHENTICATED": "the server refused the credentials; check token= or basic=",
    "PERMISSION_DENIED": "the credentials may not poll this server",
    "UNIMPLEMENTED": "the target does not serve Deep's PollConfig",
    "DEADLINE_EXCEEDED": "no answer before the deadline",
}


def resource_proto(attributes: Mapping[str, object] | None) -> Any:
    """Deep's ``Resource`` holding ``attributes`` (str, bool, int, float or bytes values)."""
    key_values = []
    for key, value in (attributes or {}).items():
        if not isinstance(key, str):
            raise TypeError(f"resource attribute names must be strings, got {key!r}")
        try:
            encoded = encode_scalar(value)
        except TypeError:
            raise TypeError(
                f"resource attribute {key!r} = {value!r}: must be a str, bool, int, float or"
                f" bytes, not {type(value).__name__}"
            ) from None
        key_values.append(common_pb2.KeyValue(key=key, value=encoded))
    return resource_pb2.Resource(attributes=key_values)


def poll_failure(target: str, error: grpc.RpcError) -> PollFailed:
    """A ``PollFailed`` naming the gRPC status of ``error`` and what it likely means."""
    # Every error grpc raises for a call is also a grpc.Call; read it by duck typing
    # so that an injected stub's errors work too.
    code_of, details_of = getattr(error, "code", None), getattr(error, "details", None)
    code = code_of() if callable(code_of) else None
    name = getattr(code, "name", None)
    details = (details_of() if callable(details_of) else None) or str(error) or repr(error)
    hint = _HINTS.get(name or "")
    failure = PollFailed(target, name, f"{details} ({hint})" if hint else details)
    failure.__cause__ = error
    return failure


def read_update(response: Any) -> tuple[tuple[TracePoint, ...], tuple[RejectedTracePoint, ...]]:
    """The valid tracepoints of an UPDATE response, and those that failed validation."""
    valid: list[TracePoint] = []
    rejected: list[RejectedTracePoint] = []
    for message in response.response:
        try:
            valid.append(TracePoint.from_proto(message))
        except InvalidTracePoint as err:
            rejected.append(RejectedTracePoint(message.ID, response.current_hash, err))
    return tuple(valid), tuple(rejected)


class Poller:
    """Polls ``stub`` once per ``poll()`` call and applies the response to ``hub``.

    ``timeout`` is the deadline of a poll beyond any hold. Thread-safe.
    """

    def __init__(
        self,
        target: str,
        hub: ConfigHub,
        stub: Any,
        *,
        metadata: Metadata,
        resource: Any,
        timeout: float,
    ) -> None:
        self.target = target
        self._hub = hub
        self._stub = stub
        self._metadata = metadata
        self._resource = resource
        self._timeout = timeout
        self._lock = threading.Lock()
        self._cancelled = False
        self._calls: set[Any] = set()
        self._dispatcher = Dispatcher()
        self._rejected: Channel[RejectedTracePoint] = Channel(self._dispatcher, _observer_raised)

    @property
    def rejected(self) -> Observable[RejectedTracePoint]:
        """Each tracepoint of an update that failed validation."""
        return self._rejected.observable

    def poll(self, hold: float | None) -> PollResult:
        """Poll (asking the server to hold for ``hold`` seconds) and apply the response.

        Raises ``PollFailed`` for a gRPC error, ``PollCancelled`` after ``cancel()``
        and ``HubClosed`` if the hub is closed.
        """
        request = poll_pb2.PollRequest(
            ts_nanos=time.time_ns(),
            current_hash=self._hub.server_hash or "",
            resource=self._resource,
        )
        metadata, timeout = self._metadata, self._timeout
        if hold is not None:
            metadata += ((HOLD_METADATA_KEY, str(hold)),)
            timeout += hold
        with self._lock:
            if self._cancelled:
                raise PollCancelled
            call = self._stub.poll.future(request, timeout=timeout, metadata=metadata)
            self._calls.add(call)
        try:
            response = call.result()
        except grpc.FutureCancelledError:
            raise PollCancelled from None
        except grpc.RpcError as err:
            raise poll_failure(self.target, err) from err
        finally:
            with self._lock:
                self._calls.discard(call)
        return self._apply(response)

    def cancel(self) -> None:
        """Cancel the calls in flight and refuse new ones, for good; idempotent."""
        with self._lock:
            self._cancelled = True
            calls = tuple(self._calls)
        for call in calls:
            call.cancel()

    def complete(self) -> None:
        """Complete the ``rejected`` stream."""
        with self._dispatcher.lock:
            self._rejected.complete()

    def _apply(self, response: Any) -> PollResult:
        ts = response.ts_nanos or time.time_ns()
        if response.response_type == poll_pb2.NO_CHANGE:
            self._hub.update_no_change(ts)
            return PollResult(False, ts, response.current_hash, 0)
        tracepoints, rejected = read_update(response)
        self._hub.update_new_config(ts, response.current_hash, tracepoints)
        for item in rejected:
            logger.warning(
                "%s sent tracepoint %r that failed validation (%s); applied the other %d"
                " tracepoints under hash %s",
                self.target,
                item.tracepoint_id,
                item.error,
                len(tracepoints),
                item.server_hash,
            )
            with self._dispatcher.lock:
                self._rejected.publish(item)
        return PollResult(True, ts, response.current_hash, len(tracepoints), rejected)


def _observer_raised(observer: abc.ObserverBase[Any], error: Exception, event: object) -> None:
    logger.error("rejected-tracepoint observer %r raised on %r", observer, event, exc_info=error)
