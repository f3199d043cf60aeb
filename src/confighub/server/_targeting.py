"""Which clients a targeted tracepoint is served to.

A tracepoint with an empty ``targeting`` goes to every client. Otherwise each
of its targeting keys must match the attribute of that name in the client's
``PollRequest.resource``; a client without that attribute gets nothing from it.
A targeting value matches an attribute value as follows:

- a scalar (str, bool, int, float, bytes) matches an equal scalar of the same
  kind: ``"2"`` does not match ``2`` and ``True`` does not match ``1`` (quote
  YAML numbers that agents send as strings), while ``2`` matches ``2.0``;
- a sequence means any of its items: ``env: [prod, staging]`` matches either,
  and an empty sequence matches nothing;
- a mapping matches a key-value-list attribute that matches every key of it,
  by these same rules (the way ``targeting`` itself matches the resource);
- an array attribute matches when any of its items does: ``zone: a`` matches
  a resource whose ``zone`` is ``[a, b]``.

A key-value-list attribute never equals a scalar, and an attribute whose value
does not decode (an ``AnyValue`` with nothing set, a key-value list that repeats
a key) matches nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from confighub._wire.anyvalue import AnyValueError, decode
from confighub.model import TargetValue

__all__ = ["Attributes", "matches", "resource_attributes"]

Attributes = Mapping[str, object]
"""A client's resource attributes, decoded from ``AnyValue`` to Python values."""

_UNREADABLE: Final = object()
"""An attribute whose ``AnyValue`` does not decode: present, but equal to no targeting value."""


def resource_attributes(resource: Any) -> dict[str, object]:
    """Decode a deep-proto ``Resource``'s attributes; a repeated key keeps its last value."""
    attributes: dict[str, object] = {}
    for kv in resource.attributes:
        try:
            attributes[kv.key] = decode(kv.value)
        except AnyValueError:
            attributes[kv.key] = _UNREADABLE
    return attributes


def matches(targeting: Mapping[str, TargetValue], attributes: Attributes) -> bool:
    """Return whether a client with ``attributes`` gets a tracepoint targeting ``targeting``."""
    return all(
        key in attributes and _value_matches(wanted, attributes[key])
        for key, wanted in targeting.items()
    )


def _value_matches(wanted: object, actual: object) -> bool:
    if isinstance(actual, tuple):
        return any(_value_matches(wanted, item) for item in actual)
    if isinstance(wanted, Mapping):
        return isinstance(actual, Mapping) and matches(wanted, actual)
    if isinstance(wanted, tuple):
        return any(_value_matches(item, actual) for item in wanted)
    return _scalar_equal(wanted, actual)


def _scalar_equal(wanted: object, actual: object) -> bool:
    if isinstance(actual, Mapping) or actual is _UNREADABLE:
        return False
    # bool is an int in Python, but True is no more 1 here than on the wire.
    if isinstance(wanted, bool) or isinstance(actual, bool):
        return type(wanted) is type(actual) and wanted == actual
    return wanted == actual
