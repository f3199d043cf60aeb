"""Where polls go and how one goes out: the target, the channel, one ``PollConfig`` call.

``check_target`` refuses a target that gRPC would dial other than meant (a URL,
no port) and ``open_channel`` opens a plaintext or TLS channel to it. A
``Poller`` sends the hash the server gave last (``hub.server_hash``), never the
effective hash, which includes custom tracepoints. An UPDATE applies its valid
tracepoints under the server's hash; each one left out is logged and published
on ``rejected``. An answer of a type this client does not know is a failure,
never applied. Calls go out in the future form so that ``cancel()``, from any
thread, can end one in flight (a held poll) at once.
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
from confighub._internal.text import short_hash, shown
from confighub._wire.anyvalue import encode_scalar
from confighub._wire.keys import HOLD_METADATA_KEY
from confighub.exceptions import PollCancelled, PollFailed
from confighub.hub import ConfigHub
from confighub.sources._results import PollResult, RejectedTracePoint, UpdateReader, poll_failure

__all__ = ["Metadata", "Poller", "check_target", "open_channel", "resource_proto"]

logger = logging.getLogger("confighub")

Metadata = tuple[tuple[str, str], ...]

# gRPC's own name resolvers: their targets are passed on as they are.
_GRPC_SCHEMES: Final = ("dns:", "ipv4:", "ipv6:", "unix:", "unix-abstract:")
_URL_SCHEMES: Final = ("http://", "https://", "grpc://", "grpcs://")
_GIVE: Final = "give HOST:PORT"


def check_target(target: object) -> None:
    """Refuse a target that gRPC would not dial as meant, with a ``ValueError`` saying why.

    Accepted: ``host:port``, ``[v6 address]:port``, and targets of gRPC's own
    schemes (``dns:``, ``ipv4:``, ``ipv6:``, ``unix:``, ``unix-abstract:``) as
    they are. A target without a port would silently go to port 443.
    """
    if not isinstance(target, str):
        raise TypeError(f"target must be a str such as 'host:4317', not {type(target).__name__}")
    if not target.strip():
        raise ValueError(f"target is empty: {_GIVE}")
    lowered = target.lower()
    if lowered.startswith(_GRPC_SCHEMES):
        return
    if lowered.startswith(_URL_SCHEMES):
        raise ValueError(f"target {shown(target)} is a URL: {_GIVE} (for https, connect with TLS)")
    if "://" in target:
        raise ValueError(
            f"target {shown(target)} has a scheme gRPC does not resolve: {_GIVE}, or a target"
            f" of one of gRPC's schemes ({', '.join(_GRPC_SCHEMES)})"
        )
    if any(char.isspace() for char in target):
        raise ValueError(f"target {shown(target)} holds whitespace: {_GIVE}")
    _check_port(target, _port_of(target))


def _port_of(target: str) -> str:
    if target.startswith("["):
        close = target.find("]")
        if close < 0:
            raise ValueError(f"target {shown(target)} opens '[' without ']': give [ADDRESS]:PORT")
        host, rest = target[1:close], target[close + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError(f"target {shown(target)}: give [ADDRESS]:PORT")
        port = rest[1:]
    else:
        host, colon, port = target.rpartition(":")
        if not colon:
            host, port = target, ""
        elif ":" in host:
            raise ValueError(
                f"target {shown(target)}: an IPv6 address needs brackets, as in [::1]:PORT"
            )
    if not host:
        raise ValueError(f"target {shown(target)} has no host: {_GIVE}")
    return port


def _check_port(target: str, port: str) -> None:
    if not port:
        raise ValueError(
            f"target {shown(target)} has no port: {_GIVE} (without one, gRPC would use 443)"
        )
    if not (port.isascii() and port.isdigit()):
        raise ValueError(f"target {shown(target)}: port {shown(port)} is not a number")
    # The length first: int() of thousands of digits is refused, or slow.
    if len(port) > 5 or not 1 <= int(port) <= 65535:
        raise ValueError(f"target {shown(target)}: port {shown(port)} is not in 1-65535")


def open_channel(
    target: str, root_certificates: bytes | None, options: tuple[tuple[str, Any], ...]
) -> Any:
    """A TLS channel trusting ``root_certificates`` (PEM) if given, else a plaintext one."""
    if root_certificates is None:
        return grpc.insecure_channel(target, options=options)
    credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
    return grpc.secure_channel(target, credentials, options=options)


def resource_proto(attributes: Mapping[str, object] | None) -> Any:
    """Deep's ``Resource`` holding ``attributes`` (str, bool, int, float or bytes values)."""
    key_values = []
    for key, value in (attributes or {}).items():
        if not isinstance(key, str):
            raise TypeError(f"resource attribute names must be strings, got {shown(key)}")
        try:
            encoded = encode_scalar(value)
        except TypeError:
            raise TypeError(
                f"resource attribute {shown(key)} = {shown(value)}: must be a str, bool, int,"
                f" float or bytes, not {type(value).__name__}"
            ) from None
        key_values.append(common_pb2.KeyValue(key=key, value=encoded))
    return resource_pb2.Resource(attributes=key_values)


class Poller:
    """Polls ``stub`` once per ``poll()`` call and applies the response to ``hub``.

    ``timeout`` is the deadline of a poll beyond any hold; ``tls`` says whether the
    channel uses TLS (None when unknown), for the hints of failures. Thread-safe.
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
        tls: bool | None = None,
    ) -> None:
        self.target = target
        self._tls = tls
        self._hub = hub
        self._stub = stub
        self._metadata = metadata
        self._resource = resource
        self._timeout = timeout
        self._lock = threading.Lock()
        self._cancelled = False
        self._calls: set[Any] = set()
        self._reader = UpdateReader()
        self._dispatcher = Dispatcher()
        self._rejected: Channel[RejectedTracePoint] = Channel(self._dispatcher, _observer_raised)

    @property
    def rejected(self) -> Observable[RejectedTracePoint]:
        """Each tracepoint of an update that failed validation."""
        return self._rejected.observable

    def poll(self, hold: float | None) -> PollResult:
        """Poll (asking the server to hold for ``hold`` seconds) and apply the response.

        Raises ``PollFailed`` for a gRPC error or an answer of an unknown type,
        ``PollCancelled`` after ``cancel()`` and ``HubClosed`` if the hub is closed.
        """
        sent_hash = self._hub.server_hash or ""
        request = poll_pb2.PollRequest(
            ts_nanos=time.time_ns(), current_hash=sent_hash, resource=self._resource
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
            raise poll_failure(self.target, err, tls=self._tls) from err
        finally:
            with self._lock:
                self._calls.discard(call)
        return self._apply(response, sent_hash)

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

    def _apply(self, response: Any, sent_hash: str) -> PollResult:
        ts = response.ts_nanos or time.time_ns()
        kind = response.response_type
        if kind == poll_pb2.NO_CHANGE:
            if not sent_hash and response.current_hash:
                # The server names a config we never got: applying this would make the hub
                # VALID with none at all. The source asks again, for the whole config (no
                # hash). A NO_CHANGE without a hash is another matter: Deep's own server
                # answers so when it holds no tracepoints, and the empty config is current.
                return PollResult(False, ts, response.current_hash, 0, config_missing=True)
            self._hub.update_no_change(ts)
            return PollResult(False, ts, response.current_hash, 0)
        if kind != poll_pb2.UPDATE:
            # Proto3 enums are open: a newer or broken server may send any number, and
            # reading it as an UPDATE would replace the config with whatever it holds.
            raise PollFailed(
                self.target,
                None,
                f"the server answered with response type {kind}, neither UPDATE nor"
                " NO_CHANGE: nothing was applied",
            )
        tracepoints, rejected = self._reader.read(response)
        self._hub.update_new_config(ts, response.current_hash, tracepoints)
        for item in rejected:
            logger.warning(
                "%s sent tracepoint %s that was left out (%s); applied the other %d"
                " tracepoints under hash %s",
                self.target,
                shown(item.tracepoint_id),
                item.error,
                len(tracepoints),
                short_hash(item.server_hash),
            )
            with self._dispatcher.lock:
                self._rejected.publish(item)
        return PollResult(True, ts, response.current_hash, len(tracepoints), rejected)


def _observer_raised(observer: abc.ObserverBase[Any], error: Exception, event: object) -> None:
    logger.error(
        "rejected-tracepoint observer %r raised on %s", observer, shown(event), exc_info=error
    )
