"""The canonical form of a tracepoint, and its digest: what every config hash is built from.

Each tracepoint is written as compact, ASCII-only JSON in a fixed field order,
with ``args`` and ``targeting`` sorted by key (their order carries no meaning)
while ``watches``, ``metrics`` and labels keep theirs (they are ordered on the
wire). Every scalar carries a type tag, so ``"1"``, ``1``, ``1.0``, ``True`` and
``b"1"`` all hash differently. ``confighub.model._hashing`` builds the hash of
a config from these digests.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from confighub.model._metric import LabelExpression, MetricDefinition
    from confighub.model._tracepoint import TracePoint

__all__ = ["canonical_digest"]

_SCALAR_TAGS: dict[type, str] = {bool: "b", int: "i", float: "f", str: "s"}
# Canonical forms are trees of lists, so the circular-reference check is pure cost.
_encode = json.JSONEncoder(
    ensure_ascii=True, allow_nan=False, check_circular=False, separators=(",", ":")
).encode


def _tagged(value: object) -> object:
    # The model hands over exact built-in types only (subclasses are normalized away).
    tag = _SCALAR_TAGS.get(type(value))
    if tag is not None:
        return [tag, value]
    if isinstance(value, bytes):
        return ["y", base64.b64encode(value).decode("ascii")]
    if isinstance(value, Mapping):
        return ["m", _sorted_items(value)]
    if isinstance(value, tuple):
        return ["a", [_tagged(item) for item in value]]
    raise TypeError(f"cannot hash a targeting value of type {type(value).__name__}")


def _sorted_items(mapping: Mapping[str, object]) -> list[list[object]]:
    return [[key, _tagged(mapping[key])] for key in sorted(mapping)]


def _label(label: LabelExpression) -> list[object]:
    static = None if label.static is None else _tagged(label.static)
    return [label.key, static, label.expression]


def _metric(metric: MetricDefinition) -> list[object]:
    return [
        metric.name,
        metric.type.value,
        [_label(label) for label in metric.labels],
        metric.expression,
        metric.namespace,
        metric.help,
        metric.unit,
    ]


def _canonical(tp: TracePoint) -> bytes:
    form = [
        tp.id,
        tp.path,
        tp.line,
        sorted(tp.args.items()),
        list(tp.watches),
        [_metric(metric) for metric in tp.metrics] if tp.metrics else [],
        _sorted_items(tp.targeting) if tp.targeting else [],
    ]
    return _encode(form).encode("ascii")


def canonical_digest(tp: TracePoint) -> bytes:
    """The SHA-256 of ``tp``'s canonical form (``TracePoint.digest`` caches it)."""
    return hashlib.sha256(_canonical(tp)).digest()
