"""``GrpcPollSource``: keeps a hub current by polling a Deep ``PollConfig`` server.

One daemon thread polls (each poll is a ``Poller.poll``) every ``interval``, or
back to back when the server holds polls (``hold=``, see
``confighub._wire.keys``), paced by ``Pacing`` when the server does not hold
them. On failure it backs off with jitter up to a cap and marks the hub
INTERRUPTED once per outage; the next applied poll makes it VALID again.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Self

from deepproto.proto.poll.v1 import poll_pb2_grpc
from reactivex import Observable, abc

from confighub._internal.lifecycle import StartStop
from confighub._internal.text import cut, short_hash
from confighub._wire.credentials import authorization_metadata, check_root_certificates
from confighub._wire.tenants import TENANT_METADATA_KEY, check_tenant
from confighub.exceptions import HubClosed, LifecycleError, PollCancelled, PollFailed
from confighub.hub import ConfigHub, SourceState
from confighub.sources._backoff import Backoff, Pacing
from confighub.sources._poller import Poller, check_target, open_channel, resource_proto
from confighub.sources._results import PollResult, RejectedTracePoint

__all__ = ["GrpcPollSource"]

logger = logging.getLogger("confighub")


class GrpcPollSource(StartStop):
    """Polls ``target`` every ``interval`` seconds (or long-polls with ``hold``) into ``hub``.

    With ``hold`` the next poll goes out as soon as one returns, and ``interval``
    only paces a server that answers held polls at once, twice in a row (one
    that ignores the hold), whatever it answers. The first poll, and the first
    after a failure, is not held, so the hub is VALID as soon as the server
    answers. A NO_CHANGE before any config came is not applied: the source asks
    again for the whole config.

    ``target`` is ``host:port``, ``[v6 address]:port`` or a target of gRPC's own
    schemes (``dns:``, ``unix:``, ...), else ``ValueError`` (a URL, no port); with
    an injected ``channel`` or ``stub`` it only names the source in messages.

    ``resource`` holds the attributes the server targets tracepoints by.
    ``root_certificates`` (PEM, checked at once) turns on TLS; ``token`` or
    ``basic`` (``"user:pass"``) add an ``authorization`` header. ``channel`` or
    ``stub`` replace the network layer (an injected channel is not closed by
    ``stop()``). ``timeout`` is the deadline of a poll beyond any hold.

    ``tenant`` names the tenant of a multi-tenant server (``HubServer(...,
    multitenant=True)``, or Deep's own): it is sent as ``x-scope-orgid`` metadata
    on every poll, and checked here (``ValueError`` for an invalid id). A
    multi-tenant server refuses a poll without one ``UNAUTHENTICATED``, which is
    a fatal ``PollFailed`` (no retry can name a tenant); a server with tenancy off
    ignores it.

    A tracepoint of an update that fails validation, and every copy of an id
    the update repeats, is logged and published on ``rejected``; the others
    apply under the server's hash, so the next poll is a NO_CHANGE and the
    server is not asked again. ``on_pause`` is called with every wait (seconds)
    before the next poll; ``clock`` (monotonic seconds) tells a held poll from
    one that returned at once. Both are there for tests and metrics.
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
        tenant: str | None = None,
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
        # NaN would pass a bare ``<= 0`` test, and no thread can wait for inf seconds.
        given = (interval, timeout) if hold is None else (interval, timeout, hold)
        if not all(x > 0 and math.isfinite(x) for x in given):
            raise ValueError(
                f"interval, timeout and hold must be > 0 and finite,"
                f" got {interval}, {timeout}, {hold}"
            )
        if root_certificates is not None:
            check_root_certificates(root_certificates)
        # Every setting is checked before a channel opens, so that a refusal leaks none.
        metadata, resource_message = authorization_metadata(token, basic), resource_proto(resource)
        if tenant is not None:
            metadata += ((TENANT_METADATA_KEY, check_tenant(tenant)),)
        self.tenant = tenant
        self.target = target
        self.interval = interval
        self.hold = hold
        self.timeout = timeout
        self._hub = hub
        self._backoff = Backoff(backoff_initial, backoff_max, backoff_multiplier, jitter)
        self._pacing = Pacing(interval, hold)
        self._on_pause = on_pause
        self._clock = clock
        self._owned_channel: Any = None
        tls = None  # unknown: the channel or stub was injected
        if stub is None:
            if channel is None:
                check_target(target)
                tls = root_certificates is not None
                # grpc's own reconnect backoff (1 s, growing to 120 s) would otherwise
                # override ours: a call fails fast until the channel's next attempt.
                options = (
                    ("grpc.initial_reconnect_backoff_ms", max(1, int(backoff_initial * 1000))),
                    ("grpc.max_reconnect_backoff_ms", max(1, int(backoff_max * 1000))),
                )
                channel = self._owned_channel = open_channel(target, root_certificates, options)
            stub = poll_pb2_grpc.PollConfigStub(channel)
        self._poller = Poller(
            target,
            hub,
            stub,
            metadata=metadata,
            resource=resource_message,
            timeout=timeout,
            tls=tls,
        )
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._hub_watch: abc.DisposableBase | None = None
        self._outage = False
        self._answered = False
        self._told_missing = False
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
        held_hash = self._hub.server_hash
        started = self._clock()
        try:
            result = self._poller.poll(hold)
        except PollCancelled:
            return 0.0  # the loop sees the stop
        except HubClosed:
            raise
        except Exception as err:
            return 0.0 if self._stopping.is_set() else self._failed(self._as_failure(err))
        took = self._clock() - started
        if result.config_missing:
            self._missing()
        else:
            self._recovered()
        return self._pacing.after_answer(
            hold,
            took,
            config_missing=result.config_missing,
            new_config=result.updated and result.server_hash != held_hash,
        )

    def _as_failure(self, error: Exception) -> PollFailed:
        if isinstance(error, PollFailed):
            return error
        # Not a gRPC status: a malformed response or a bug, worth its traceback.
        logger.error("unexpected error polling %s", self.target, exc_info=error)
        failure = PollFailed(self.target, None, f"{type(error).__name__}: {cut(str(error))}")
        failure.__cause__ = error
        return failure

    def _failed(self, failure: PollFailed) -> float:
        self._last_error = failure
        self._answered = False
        at_cap = failure.fatal
        delay = self._backoff.at_cap() if at_cap else self._backoff.next_delay()
        if self._outage:
            logger.debug("%s; retrying in %.2f s", failure, delay)
            return delay
        self._outage = True
        logger.warning(
            "%s; kept the last good config (hash %s); retrying in %.2f s%s",
            failure,
            short_hash(self._hub.server_hash),
            delay,
            " (the backoff cap: retrying sooner would not help)" if at_cap else "",
        )
        self._hub.set_status(SourceState.INTERRUPTED, failure)
        return delay

    def _recovered(self) -> None:
        self._backoff.reset()
        self._answered = True
        self._told_missing = False
        if self._outage:
            self._outage = False
            logger.info(
                "polling %s works again (hash %s)", self.target, short_hash(self._hub.server_hash)
            )

    def _missing(self) -> None:
        # The server answers, but with nothing to apply: the hub's status stays as it is,
        # and the next poll is not held, so that it plainly asks for the config.
        self._backoff.reset()
        self._answered = False
        log = logger.debug if self._told_missing else logger.warning
        self._told_missing = True
        log("%s answered NO_CHANGE before sending any config; asking for it again", self.target)

    def _paused(self, delay: float) -> None:
        if self._on_pause is not None:
            try:
                self._on_pause(delay)
            except Exception:
                logger.exception("on_pause callback of %r raised", self)

    def _interrupt(self) -> None:
        self._stopping.set()
        self._poller.cancel()
