"""Sources keep a ``ConfigHub`` current: a Deep ``PollConfig`` server, or a file.

::

    from confighub import ConfigHub
    from confighub.sources import FileSource, GrpcPollSource

    hub = ConfigHub()
    with GrpcPollSource("deep:43315", hub, hold=30, token="..."):
        hub.changes.subscribe(print)
        ...

Both drive the hub's ``status``: VALID while polls or file loads apply,
INTERRUPTED (with the error) when they fail and the last good config is kept,
OFF once stopped.
"""

from confighub._wire.keys import HOLD_METADATA_KEY
from confighub.sources._backoff import Backoff
from confighub.sources._file_source import FileSource
from confighub.sources._grpc_source import GrpcPollSource
from confighub.sources._results import PollResult, RejectedTracePoint

__all__ = [
    "HOLD_METADATA_KEY",
    "Backoff",
    "FileSource",
    "GrpcPollSource",
    "PollResult",
    "RejectedTracePoint",
]
