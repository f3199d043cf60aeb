"""A plain deep-proto ``PollConfig`` server for source tests, with the long-poll contract.

It is written against the protocol only (not ``confighub.server``): it serves a
settable config, records every request and its metadata, holds a poll that
carries ``confighub-hold`` until the config changes, the hold ends or the call
is cancelled, and can require an ``authorization`` value.
"""

from __future__ import annotations

import threading
import time
from concurrent import futures
from typing import Any

import grpc
from deepproto.proto.poll.v1 import poll_pb2, poll_pb2_grpc

from confighub import TracePoint, config_hash
from tests.support.waiting import TIMEOUT

HOLD_KEY = "confighub-hold"
"""Spelled out rather than imported: the test pins the wire contract."""


class Polled:
    """One request as the server saw it."""

    def __init__(self, request: Any, metadata: dict[str, str], time_remaining: float | None):
        self.current_hash: str = request.current_hash
        self.resource: Any = request.resource
        self.metadata = metadata
        self.time_remaining = time_remaining


class PollServicer(poll_pb2_grpc.PollConfigServicer):  # type: ignore[misc]
    """Serves ``config`` under ``hash``; NO_CHANGE when the client's hash matches."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.messages: tuple[Any, ...] = ()
        self.hash = config_hash(())
        self.polls: list[Polled] = []
        self.holding = 0
        self.required_auth: str | None = None
        self.refusal = grpc.StatusCode.UNAUTHENTICATED

    def serve(self, *tracepoints: TracePoint) -> str:
        """Serve ``tracepoints`` under their ``config_hash``; wakes held polls."""
        return self.serve_raw(config_hash(tracepoints), [tp.to_proto() for tp in tracepoints])

    def serve_raw(self, new_hash: str, messages: list[Any]) -> str:
        """Serve raw ``TracePointConfig`` messages (which may be invalid) under ``new_hash``."""
        with self.changed:
            self.messages, self.hash = tuple(messages), new_hash
            self.changed.notify_all()
        return new_hash

    def poll(self, request: Any, context: Any) -> Any:
        metadata = {key: str(value) for key, value in context.invocation_metadata()}
        hold = metadata.get(HOLD_KEY)
        # A cancelled call (the client stopped, the server shuts down) ends the hold.
        context.add_callback(self._wake)
        with self.changed:
            self.polls.append(Polled(request, metadata, context.time_remaining()))
            self.changed.notify_all()
            if self.required_auth is not None and metadata.get("authorization") != (
                self.required_auth
            ):
                context.abort(self.refusal, "bad credentials")
            if hold is not None and request.current_hash == self.hash:
                self.holding += 1
                self.changed.notify_all()
                self.changed.wait_for(
                    lambda: request.current_hash != self.hash or not context.is_active(),
                    timeout=float(hold),
                )
                self.holding -= 1
                self.changed.notify_all()
            return self._response(request.current_hash)

    def _response(self, client_hash: str) -> Any:
        if client_hash == self.hash:
            return poll_pb2.PollResponse(
                ts_nanos=time.time_ns(), current_hash=self.hash, response_type=poll_pb2.NO_CHANGE
            )
        return poll_pb2.PollResponse(
            ts_nanos=time.time_ns(),
            current_hash=self.hash,
            response=list(self.messages),
            response_type=poll_pb2.UPDATE,
        )

    def _wake(self) -> None:
        with self.changed:
            self.changed.notify_all()

    def wait_for(self, predicate: Any, what: str, timeout: float = TIMEOUT) -> None:
        """Block until ``predicate()`` holds (checked on every request or change)."""
        with self.changed:
            if not self.changed.wait_for(predicate, timeout):
                raise AssertionError(f"timed out waiting for {what}")


class PollServer:
    """Runs a ``PollServicer`` on 127.0.0.1; can be stopped and started again on the same port."""

    THREAD_PREFIX = "test-poll-server"

    def __init__(self, servicer: PollServicer, credentials: Any = None) -> None:
        self.servicer = servicer
        self.port = 0
        self._credentials = credentials
        self._server: Any = None
        self._executor: futures.ThreadPoolExecutor | None = None

    @property
    def target(self) -> str:
        """Where a client reaches the server."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> PollServer:
        """Bind (the port of the first start, on a restart) and serve."""
        self._executor = futures.ThreadPoolExecutor(8, thread_name_prefix=self.THREAD_PREFIX)
        server = grpc.server(self._executor)
        poll_pb2_grpc.add_PollConfigServicer_to_server(self.servicer, server)
        address = f"127.0.0.1:{self.port}"
        if self._credentials is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, self._credentials)
        assert port, f"could not bind {address}"
        self.port = port
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        """Stop at once, cancelling calls in flight; idempotent."""
        if self._server is not None:
            self._server.stop(grace=None).wait()
            self._server = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
