"""The tracepoint model: ``TracePoint``, its metrics, and every hash rule of a config.

The value types are frozen and slotted, validate themselves on construction and
normalize what they are given, so an instance that exists is a valid one::

    tp = TracePoint("checkout", "shop/checkout.py", 42, {"fire_count": "-1"})
    TracePoint.from_dict(tp.to_dict()) == TracePoint.from_proto(tp.to_proto()) == tp

``config_hash`` is the canonical hash of a config (order-independent, stable
across processes); ``view_hash`` the hash of any part of one, opaque items
included; ``effective_hash`` that of a server config with custom tracepoints.
"""

from confighub.model._frozen import FrozenMap
from confighub.model._hashing import (
    HASH_LENGTH,
    config_hash,
    effective_hash,
    tracepoint_digest,
    view_hash,
)
from confighub.model._metric import LabelExpression, MetricDefinition, MetricType, Scalar
from confighub.model._tracepoint import Action, TargetValue, TracePoint

__all__ = [
    "HASH_LENGTH",
    "Action",
    "FrozenMap",
    "LabelExpression",
    "MetricDefinition",
    "MetricType",
    "Scalar",
    "TargetValue",
    "TracePoint",
    "config_hash",
    "effective_hash",
    "tracepoint_digest",
    "view_hash",
]
