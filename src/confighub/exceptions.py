"""The exceptions confighub raises, one family under one base class.

::

    ConfigHubError
    ├── InvalidTracePoint        (also a ValueError)   a tracepoint field is wrong
    ├── TracePointFileError      (also a ValueError)   a tracepoint file cannot be used
    ├── TapeError                (also a ValueError)   a recorded tape cannot be replayed
    ├── PollFailed                                     a poll of a Deep server failed
    ├── PollCancelled                                  a poll ended because its source stopped
    ├── ServeFailed              (also a RuntimeError) a HubServer could not start serving
    ├── ManagementError                                a call of the management API failed
    ├── StoreError                                     a store refused or failed a write
    │   ├── ReadOnlyStore                              the store cannot be written (a file)
    │   ├── StaleConfig                                a write expected another config hash
    │   ├── TracePointExists                           a create named an id already in use
    │   ├── UnknownTracePoint    (also a LookupError)  no tracepoint has that id
    │   └── StoreUnavailable                           the store cannot be read or written now
    └── LifecycleError           (also a RuntimeError) used out of its start/stop order
        └── HubClosed                                  the hub was closed

Each message says what was wrong and where, so that a user can act on it, and each is
bounded: a value or a reason that came from outside is cut to a few hundred characters.
"""

from __future__ import annotations

from http import HTTPStatus

from confighub._internal.text import cut, shown

__all__ = [
    "ConfigHubError",
    "HubClosed",
    "InvalidTracePoint",
    "LifecycleError",
    "ManagementError",
    "PollCancelled",
    "PollFailed",
    "ReadOnlyStore",
    "ServeFailed",
    "StaleConfig",
    "StoreError",
    "StoreUnavailable",
    "TapeError",
    "TracePointExists",
    "TracePointFileError",
    "UnknownTracePoint",
]

_REASON_LENGTH = 1000
"""A reason may quote a value and a nested error; past this it is cut all the same."""


class ConfigHubError(Exception):
    """The base class of every error confighub raises on purpose."""


class InvalidTracePoint(ConfigHubError, ValueError):
    """A tracepoint failed validation: names the tracepoint id, the field and the value."""

    def __init__(self, tracepoint_id: object, field: str, value: object, reason: str) -> None:
        self.tracepoint_id = tracepoint_id
        self.field = field
        self.value = value
        self.reason = reason
        # A tracepoint without an id yet (one derived from a bad path or line) is named by
        # the field alone; a file error around it gives its line.
        which = f" {shown(tracepoint_id)}" if tracepoint_id is not None else " (no id)"
        super().__init__(
            f"invalid tracepoint{which}: field {shown(field)} = {shown(value)}: {cut(reason)}"
        )


class TracePointFileError(ConfigHubError, ValueError):
    """A tracepoint file could not be read or parsed: names the file, the line and the reason."""

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {cut(reason, _REASON_LENGTH)}")


class PollFailed(ConfigHubError):
    """A poll of a Deep ``PollConfig`` server failed: names the target, the gRPC status and why.

    ``code`` is the name of the gRPC status code (``"UNAVAILABLE"``, ``"UNAUTHENTICATED"``,
    ...), or None when the failure was not a gRPC status. ``fatal`` says that retrying
    cannot help until a setting changes: the server refused the credentials or the request,
    or does not serve ``PollConfig`` at all.
    """

    FATAL_CODES = frozenset(
        {"UNAUTHENTICATED", "PERMISSION_DENIED", "UNIMPLEMENTED", "INVALID_ARGUMENT"}
    )
    """The gRPC status codes that no retry fixes."""

    def __init__(self, target: str, code: str | None, reason: str) -> None:
        self.target = target
        self.code = code
        self.reason = reason
        status = f"{code}: " if code is not None else ""
        super().__init__(f"poll of {target} failed: {status}{cut(reason, _REASON_LENGTH)}")

    @property
    def fatal(self) -> bool:
        """Whether the failure needs a change of settings rather than a retry."""
        return self.code in self.FATAL_CODES


class PollCancelled(ConfigHubError):
    """A poll was cancelled, or refused before it went out, because its source is stopping."""


class ServeFailed(ConfigHubError, RuntimeError):
    """A ``HubServer`` could not serve: names the address and why (for example, in use)."""

    def __init__(self, address: str, reason: str) -> None:
        self.address = address
        self.reason = reason
        super().__init__(f"HubServer cannot serve on {address}: {reason}")


class ManagementError(ConfigHubError):
    """A call of a ``HubServer``'s HTTP management API failed: names the call, the status, why.

    ``request`` is the method and URL (``"PUT http://hub:8080/api/tracepoints/a"``),
    never a credential; ``status`` is the HTTP status the server answered, or None
    when no answer came (refused, timed out, TLS failed); ``reason`` is the server's
    own ``error`` text or what went wrong, cut to a bound.
    """

    def __init__(self, request: str, status: int | None, reason: str) -> None:
        self.request = request
        self.status = status
        self.reason = cut(reason, _REASON_LENGTH)
        said = self.reason if status is None else f"{_status_line(status)}: {self.reason}"
        super().__init__(f"{cut(request)} failed: {said}")


class StoreError(ConfigHubError):
    """A store refused a write, or could not do it; nothing of the write was applied."""


class ReadOnlyStore(StoreError):
    """The store cannot be written through its API: ``where`` says what to edit instead."""

    def __init__(self, where: str) -> None:
        self.where = where
        super().__init__(f"this store is read-only: {cut(where, _REASON_LENGTH)}")


class StaleConfig(StoreError):
    """A write named the config hash it expected, and the store holds another one now."""

    def __init__(self, expected: str, current: str) -> None:
        self.expected = expected
        self.current = current
        super().__init__(
            f"the config changed: the write expected hash {shown(expected, 80)},"
            f" the store holds {shown(current, 80)}; read it again and retry"
        )


class TracePointExists(StoreError):
    """A create named an id that a tracepoint of the config has already."""

    def __init__(self, tracepoint_id: str) -> None:
        self.tracepoint_id = tracepoint_id
        super().__init__(
            f"tracepoint {shown(tracepoint_id)} exists already: replace it, or create without an id"
        )


class UnknownTracePoint(StoreError, LookupError):
    """No tracepoint of the config has the id asked for."""

    def __init__(self, tracepoint_id: str) -> None:
        self.tracepoint_id = tracepoint_id
        super().__init__(f"no tracepoint has the id {shown(tracepoint_id)}")

    def __str__(self) -> str:
        # LookupError's own __str__ is the repr of its argument, quotes and all.
        return str(self.args[0])


class StoreUnavailable(StoreError):
    """The store could not be read or written (a full disk, a read-only file, a lost server)."""

    def __init__(self, store: str, reason: str) -> None:
        self.store = store
        self.reason = reason
        super().__init__(f"{store} is unavailable: {cut(reason, _REASON_LENGTH)}")


class TapeError(ConfigHubError, ValueError):
    """A tape could not be read or replayed: names the file, the line and the reason."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        super().__init__(f"{path}:{line}: {cut(reason, _REASON_LENGTH)}")


class LifecycleError(ConfigHubError, RuntimeError):
    """A source, server or hub was used out of its start/stop order.

    For example ``start()`` after ``stop()``, or asking a server for its port
    before ``start()``. The message says what to do instead.
    """


class HubClosed(LifecycleError):
    """An update or subscription reached a hub after ``close()``."""


def _status_line(status: int) -> str:
    """``412 Precondition Failed``, or the bare number of a status HTTP does not name."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)
