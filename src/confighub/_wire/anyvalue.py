"""The one codec between Python values and deep-proto's ``common.v1.AnyValue``.

Encoding: ``str``, ``bool``, ``int``, ``float`` and ``bytes`` become the
matching scalar case (subclasses, such as a ``StrEnum`` member, as their base
type); tuples and lists an ``array_value``; mappings with string keys a
``kvlist_value``. Decoding gives back scalars, tuples and dicts, and refuses an
``AnyValue`` with no case set and a key-value list that repeats a key or leaves
a value out, with an ``AnyValueError`` saying where.

Tracepoints' ``targeting`` and metric labels use the whole codec; a client's
resource attributes are scalars only (``encode_scalar``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from deepproto.proto.common.v1 import common_pb2

__all__ = [
    "AnyValueError",
    "decode",
    "decode_key_values",
    "encode",
    "encode_key_values",
    "encode_scalar",
]

# Exact types first: the model hands over built-in types only, and a dict lookup is quick.
_SCALAR_CASES: Final[dict[type, str]] = {
    bool: "bool_value",
    int: "int_value",
    float: "double_value",
    str: "string_value",
    bytes: "bytes_value",
}
# For subclasses, in this order (a bool is an int too), each as its exact base type.
_SCALAR_KINDS: Final[tuple[tuple[type, Callable[[Any], object]], ...]] = (
    (bool, bool),
    (int, int),
    (float, float),
    (str, str.__str__),
    (bytes, bytes),
)


class AnyValueError(ValueError):
    """An ``AnyValue`` that cannot be decoded: ``where`` inside it (``""``, ``[2]``, ``.key``)."""

    def __init__(self, where: str, value: object, reason: str) -> None:
        self.where = where
        self.value = value
        self.reason = reason
        super().__init__(f"{where or 'value'}: {reason}")


def encode_scalar(value: object) -> Any:
    """The ``AnyValue`` of a scalar; ``TypeError`` for anything else."""
    case = _SCALAR_CASES.get(type(value))
    if case is not None:
        return common_pb2.AnyValue(**{case: value})
    for kind, exact in _SCALAR_KINDS:
        if isinstance(value, kind):
            return common_pb2.AnyValue(**{_SCALAR_CASES[kind]: exact(value)})
    raise TypeError(f"no AnyValue case for {type(value).__name__}")


def encode(value: object) -> Any:
    """The ``AnyValue`` of a scalar, a sequence or a mapping of them; ``TypeError`` otherwise."""
    if isinstance(value, Mapping):
        return common_pb2.AnyValue(
            kvlist_value=common_pb2.KeyValueList(values=encode_key_values(value))
        )
    if isinstance(value, tuple | list):
        items = [encode(item) for item in value]
        return common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=items))
    return encode_scalar(value)


def encode_key_values(mapping: Mapping[str, object]) -> list[Any]:
    """The ``KeyValue`` messages of a mapping, in its order."""
    return [common_pb2.KeyValue(key=key, value=encode(value)) for key, value in mapping.items()]


def decode(value: Any) -> object:
    """The Python value of an ``AnyValue``: a scalar, a tuple or a dict."""
    case = value.WhichOneof("value")
    if case is None:
        raise AnyValueError("", None, "AnyValue has no value set")
    if case == "array_value":
        items = []
        for index, item in enumerate(value.array_value.values):
            try:
                items.append(decode(item))
            except AnyValueError as err:
                raise AnyValueError(f"[{index}]{err.where}", err.value, err.reason) from None
        return tuple(items)
    if case == "kvlist_value":
        return decode_key_values(value.kvlist_value.values)
    result: object = getattr(value, case)
    return result


def decode_key_values(key_values: Iterable[Any]) -> dict[str, object]:
    """The dict of ``KeyValue`` messages; a repeated key or a missing value is refused."""
    result: dict[str, object] = {}
    for key_value in key_values:
        key = key_value.key
        where = f".{key}"
        if key in result:
            raise AnyValueError(where, key, "duplicate key")
        if not key_value.HasField("value"):
            raise AnyValueError(where, None, "has no value")
        try:
            result[key] = decode(key_value.value)
        except AnyValueError as err:
            raise AnyValueError(f"{where}{err.where}", err.value, err.reason) from None
    return result
