"""``GrpcPollSource``: keeps a hub current by polling a Deep ``PollConfig`` server.

One daemon thread polls (each poll is a ``Poller.poll``) every ``interval``, or
back to back when the server holds polls (``hold=``, see
``confighub._wire.keys``). On failure it backs off with jitter up to a cap
and marks the hub INTERRUPTED once per outage; the next applied poll makes it
VALID again.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final, Self

import grpc
from deepproto.proto.poll.v1 import poll_pb2_grpc
from reactivex import Observable, abc

from confighub._internal.lifecycle import StartStop
from confighub._wire.credentials import authorization_metadata
from confighub.exceptions import HubClosed, LifecycleError, PollCancelled, PollFailed
from confighub.hub import ConfigHub, SourceState
from confighub.sources._backoff import Backoff
from confighub.sources._poller import Poller, resource_proto
from confighub.sources._results import PollResult, RejectedTracePoint

__all__ = ["GrpcPollSource"]

logger = logging.getLogger("confighub")

# Retrying sooner cannot fix these: the client would only hammer the server.
_AT_CAP: Final = frozenset({"UNAUTHENTICATED", "PERMISSION_DENIED", "UNIMPLEMENTED"})
# A held NO_CHANGE back sooner than this (seconds) was not held.
_AT_ONCE: Final = 1.0


class GrpcPollSource(StartStop):
    """Polls ``target`` every ``interval`` seconds (or long-polls with ``hold``) into ``hub``.

    With ``hold`` the next poll goes out as soon as one returns, and ``interval``
    only paces a server that answers held polls at once, twice in a row (one
    that ignores the hold). The first poll, and the first after a failure, is not held, so the
    hub is VALID as soon as the server answers.

    ``resource`` holds the attributes the server targets tracepoints by.
    ``root_certificates`` (PEM) turns on TLS; ``token`` or ``basic``
    (``"user:pass"``) add an ``authorization`` header. ``channel`` or ``stub``
    replace the network layer (an injected channel is not closed by ``stop()``).
    ``timeout`` is the deadline of a poll beyond any hold.

    A tracepoint of an update that fails validation is logged and published on
    ``rejected``; the others apply under the server's hash, so the next poll is
    a NO_CHANGE and the server is not asked again. ``on_pause`` is called with
    every wait (seconds) before the next poll; ``clock`` (monotonic seconds)
    tells a held poll from one that returned at once. Both are there for tests
    and metrics.
    """

    def __init__(
        self,
        target: str,
        hub: ConfigHub,
        *,
        interval: float = 10.0,
        hold: float | None = None,
        resource: Mapping[str, object] | None = None,
        root_certificates: bytes | None = None,
        token: str | None = None,
        basic: str | None = None,
        channel: Any = None,
        stub: Any = None,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        backoff_multiplier: float = 2.0,
        jitter: float = 1.0,
        timeout: float = 10.0,
        on_pause: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval <= 0 or timeout <= 0 or (hold is not None and hold <= 0):
            raise ValueError(
                f"interval, timeout and hold must be > 0, got {interval}, {timeout}, {hold}"
            )
        self.target = target
        self.interval = interval
        self.hold = hold
        self.timeout = timeout
        self._hub = hub
        self._backoff = Backoff(backoff_initial, backoff_max, backoff_multiplier, jitter)
        self._on_pause = on_pause
        self._clock = clock
        self._owned_channel: Any = None
        if stub is None:
            if channel is None:
                # grpc's own reconnect backoff (1 s, growing to 120 s) would otherwise
                # override ours: a call fails fast until the channel's next attempt.
                options = (
                    ("grpc.initial_reconnect_backoff_ms", max(1, int(backoff_initial * 1000))),
                    ("grpc.max_reconnect_backoff_ms", max(1, int(backoff_max * 1000))),
                )
                channel = self._owned_channel = _open_channel(target, root_certificates, options)
            stub = poll_pb2_grpc.PollConfigStub(channel)
        self._poller = Poller(
            target,
            hub,
            stub,
            metadata=authorization_metadata(token, basic),
            resource=resource_proto(resource),
            timeout=timeout,
        )
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._hub_watch: abc.DisposableBase | None = None
        self._outage = False
        self._answered = False
        self._instant_answers = 0
        self._last_error: PollFailed | None = None

    @property
    def rejected(self) -> Observable[RejectedTracePoint]:
        """Each tracepoint of an update that failed validation; completes on ``stop()``."""
        return self._poller.rejected

    @property
    def last_error(self) -> PollFailed | None:
        """The last failure of a poll, None if none failed yet."""
        return self._last_error

    @property
    def running(self) -> bool:
        """True while the polling thread is alive."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self) -> Self:
        """Start polling on a daemon thread; idempotent. Raises ``HubClosed`` on a closed hub."""
        with self._lock:
            if self._stopped:
                raise LifecycleError("this GrpcPollSource was stopped; create a new one")
            if self._thread is not None:
                return self
            if self._hub.closed:
                raise HubClosed("the hub is closed; create a new ConfigHub to poll into")
            self._thread = threading.Thread(
                target=self._run, name=f"confighub-poll-{self.target}", daemon=True
            )
        # A held poll must end as soon as the hub closes, not when the hold runs out.
        self._hub_watch = self._hub.status.subscribe(on_completed=self._interrupt)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop polling: cancel a poll in flight, join the thread, mark the hub OFF. Idempotent.

        Safe from the polling thread itself (an observer of the hub), which then
        ends after the current poll. Like any blocking call, not from an observer
        that another thread's update runs: the polling thread may be waiting for it.
        """
        self._interrupt()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        if self._hub_watch is not None:
            self._hub_watch.dispose()
        if self._owned_channel is not None:
            self._owned_channel.close()
        self._poller.complete()
        with contextlib.suppress(HubClosed):  # close() already marked the hub OFF
            self._hub.set_status(SourceState.OFF)

    def poll_once(self) -> PollResult:
        """Poll once, without holding, and apply the response; raises ``PollFailed``.

        Does not touch the hub's status on failure: the caller has the error.
        """
        try:
            return self._poller.poll(hold=None)
        except PollCancelled:
            raise PollFailed(self.target, "CANCELLED", "the source was stopped") from None

    def __repr__(self) -> str:
        mode = f"hold={self.hold}" if self.hold is not None else f"interval={self.interval}"
        state = "running" if self.running else "stopped" if self._stopped else "idle"
        return f"<GrpcPollSource {self.target} {mode} {state}>"

    # -- the polling thread ----------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                pause = self._cycle()
                if pause > 0 and not self._stopping.is_set():
                    self._paused(pause)
                    if self._stopping.wait(pause):
                        break
        except HubClosed:
            logger.debug("the hub closed; polling of %s ends", self.target)

    def _cycle(self) -> float:
        """Poll once; return how long to wait before the next poll."""
        # The first poll, and the first after a failure, does not hold: the hub learns
        # at once that the server answers (VALID) instead of when the hold ends.
        hold = self.hold if self._answered else None
        started = self._clock()
        try:
            result = self._poller.poll(hold)
        except PollCancelled:
            return 0.0  # the loop sees the stop
        except HubClosed:
            raise
        except Exception as err:
            return 0.0 if self._stopping.is_set() else self._failed(self._as_failure(err))
        self._recovered()
        if self.hold is None:
            return self.interval
        # A server that ignores the hold answers NO_CHANGE at once: polling again
        # immediately would hammer it, so after two such answers in a row fall back to
        # the interval. One alone is not proof: a HubServer that is shutting down answers
        # its held polls at once, and the next poll should find the outage now, not an
        # interval later. A server that caps the hold answers after seconds: poll again.
        at_once = hold is not None and self._clock() - started < min(hold / 2, _AT_ONCE)
        if not at_once or result.updated:
            self._instant_answers = 0
            return 0.0
        self._instant_answers += 1
        return self.interval if self._instant_answers >= 2 else 0.0

    def _as_failure(self, error: Exception) -> PollFailed:
        if isinstance(error, PollFailed):
            return error
        # Not a gRPC status: a malformed response or a bug, worth its traceback.
        logger.error("unexpected error polling %s", self.target, exc_info=error)
        failure = PollFailed(self.target, None, f"{type(error).__name__}: {error}")
        failure.__cause__ = error
        return failure

    def _failed(self, failure: PollFailed) -> float:
        self._last_error = failure
        self._answered = False
        at_cap = failure.code in _AT_CAP
        delay = self._backoff.at_cap() if at_cap else self._backoff.next_delay()
        if self._outage:
            logger.debug("%s; retrying in %.2f s", failure, delay)
            return delay
        self._outage = True
        logger.warning(
            "%s; kept the last good config (hash %s); retrying in %.2f s%s",
            failure,
            self._hub.server_hash,
            delay,
            " (the backoff cap: retrying sooner would not help)" if at_cap else "",
        )
        self._hub.set_status(SourceState.INTERRUPTED, failure)
        return delay

    def _recovered(self) -> None:
        self._backoff.reset()
        self._answered = True
        if self._outage:
            self._outage = False
            logger.info("polling %s works again (hash %s)", self.target, self._hub.server_hash)

    def _paused(self, delay: float) -> None:
        if self._on_pause is not None:
            try:
                self._on_pause(delay)
            except Exception:
                logger.exception("on_pause callback of %r raised", self)

    def _interrupt(self) -> None:
        self._stopping.set()
        self._poller.cancel()


def _open_channel(
    target: str, root_certificates: bytes | None, options: tuple[tuple[str, Any], ...]
) -> Any:
    """A TLS channel trusting ``root_certificates`` (PEM) if given, else a plaintext one."""
    if root_certificates is None:
        return grpc.insecure_channel(target, options=options)
    credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
    return grpc.secure_channel(target, credentials, options=options)
