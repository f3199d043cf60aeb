"""confighub: a reactive-streams config hub for dynamic-instrumentation tracepoints.

The hub keeps the current tracepoint config and publishes every change as
``ConfigChange(ts, old_hash, new_hash, old, new)`` on a reactivex stream::

    from confighub import ConfigHub, TracePoint, config_hash

    hub = ConfigHub()
    hub.changes.subscribe(lambda change: print(change.diff))
    config = [TracePoint("tp-1", "shop/cart.py", 12)]
    hub.update_new_config(ts, config_hash(config), config)
"""

import logging

from confighub._version import __version__
from confighub.events import ConfigChange, ConfigDiff
from confighub.exceptions import (
    ConfigHubError,
    HubClosed,
    InvalidTracePoint,
    LifecycleError,
    PollFailed,
    ServeFailed,
    TapeError,
    TracePointFileError,
)
from confighub.files import load_tracepoints, parse_tracepoints
from confighub.hub import ConfigHub, ObserverError, SourceState, SourceStatus
from confighub.model import (
    Action,
    LabelExpression,
    MetricDefinition,
    MetricType,
    TracePoint,
    config_hash,
)

__all__ = [
    "Action",
    "ConfigChange",
    "ConfigDiff",
    "ConfigHub",
    "ConfigHubError",
    "HubClosed",
    "InvalidTracePoint",
    "LabelExpression",
    "LifecycleError",
    "MetricDefinition",
    "MetricType",
    "ObserverError",
    "PollFailed",
    "ServeFailed",
    "SourceState",
    "SourceStatus",
    "TapeError",
    "TracePoint",
    "TracePointFileError",
    "__version__",
    "config_hash",
    "load_tracepoints",
    "parse_tracepoints",
]

# A library leaves logging to the application: without a handler of its own, an
# application that set none up would get confighub's warnings from Python's
# last-resort handler, unasked.
logging.getLogger("confighub").addHandler(logging.NullHandler())
