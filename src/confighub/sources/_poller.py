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
from typing import Any

import grpc
from deepproto.proto.poll.v1 import poll_pb2
from reactivex import Observable, abc

from confighub._dispatch import Channel, Dispatcher
from confighub.hub import ConfigHub
from confighub.sources._wire import (
    HOLD_METADATA_KEY,
    Metadata,
    PollResult,
    RejectedTracePoint,
    poll_failure,
    read_update,
)

__all__ = ["PollCancelled", "Poller"]

logger = logging.getLogger("confighub")


class PollCancelled(Exception):
    """The poll was cancelled, or refused, because ``Poller.cancel()`` was called."""


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
