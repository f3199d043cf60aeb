"""The validation rules of tracepoint fields, kept apart from the value types they guard.

Every check raises ``InvalidTracePoint(tracepoint_id, field, value, reason)``.
Values are also normalized here: subclasses of ``str``/``int``/``float``/``bytes``
(an ``enum.StrEnum`` member, say) become the exact built-in type, so that the
YAML/JSON writers and the proto setters accept them and equal values hash equally.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from confighub.exceptions import InvalidTracePoint
from confighub.model._frozen import FrozenMap

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
# ``line_number`` is a uint32 on the wire; a larger line could not round-trip.
LINE_MAX: Final = 2**32 - 1

#: The values each enumerated well-known arg may take.
ARG_CHOICES: Final[Mapping[str, frozenset[str]]] = {
    "snapshot": frozenset({"collect", "no_collect"}),
    "stage": frozenset(
        {"line_start", "line_end", "line_capture", "method_start", "method_end", "method_capture"}
    ),
    "span": frozenset({"line", "method"}),
    "frame_type": frozenset({"single_frame", "all_frame", "no_frame"}),
    "stack_type": frozenset({"stack", "no_stack"}),
}
#: The smallest value each integer well-known arg may take (-1 means "unlimited").
ARG_MINIMUMS: Final[Mapping[str, int]] = {
    "fire_count": -1,
    "fire_period": 0,
    "window_start": 0,
    "window_end": 0,
}
_MINIMUM_NAMES: Final = frozenset(ARG_MINIMUMS)
_CHOICE_NAMES: Final = frozenset(ARG_CHOICES)

# Stricter than ``int()``, which also takes " 5", "+5", "5_000" and non-ASCII digits:
# the Deep agents in other languages would not.
_INT_PATTERN: Final = re.compile(r"-?[0-9]+")

# What an empty args or targeting mapping becomes: immutable, so one is shared by all.
_EMPTY_MAP: Final[FrozenMap[Any, Any]] = FrozenMap()


def parse_int_arg(text: str) -> int | None:
    """Return the integer an arg spells, or None when it is not a plain decimal integer."""
    # ASCII decimal digits only, the usual case, is quicker to test than the pattern.
    if text.isdecimal() and text.isascii():
        return int(text)
    return int(text) if _INT_PATTERN.fullmatch(text) else None


def exact_str(value: object) -> str | None:
    """Return ``value`` as an exact ``str`` if it is a string of any kind, else None."""
    if type(value) is str:
        return value
    return str.__str__(value) if isinstance(value, str) else None


def check_text(tp_id: object, field: str, value: object, *, empty_ok: bool = False) -> str:
    """Check that ``value`` is a string (non-empty unless ``empty_ok``); return it exactly."""
    # A plain str, the usual case, needs no call to exact_str.
    text = value if type(value) is str else exact_str(value)
    if text is None:
        raise InvalidTracePoint(tp_id, field, value, "must be a string")
    if not text and not empty_ok:
        raise InvalidTracePoint(tp_id, field, value, "must not be empty")
    return text


def check_optional_text(tp_id: object, field: str, value: object) -> str | None:
    """Check that ``value`` is None or a string (empty allowed: the wire tells them apart)."""
    return None if value is None else check_text(tp_id, field, value, empty_ok=True)


def check_list(tp_id: object, field: str, value: object) -> None:
    """Check that ``value`` is an iterable of items, not one string or mapping."""
    # The usual tuple or list passes without the slower ABC checks below.
    if type(value) is tuple or type(value) is list:
        return
    # A str is iterable, so ``watches="total"`` would quietly become five watches.
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise InvalidTracePoint(tp_id, field, value, "must be a list")


def check_line(tp_id: object, value: object) -> int:
    """Check a line number: an int (not a bool) from 0 to the wire's uint32 maximum."""
    # The usual plain int in range needs none of the checks below.
    if type(value) is int and 0 <= value <= LINE_MAX:
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidTracePoint(tp_id, "line", value, "must be an integer")
    if not 0 <= value <= LINE_MAX:
        raise InvalidTracePoint(tp_id, "line", value, f"must be between 0 and {LINE_MAX}")
    return int(value)


def check_scalar(tp_id: object, field: str, value: object) -> str | bool | int | float | bytes:
    """Check a wire scalar (str, bool, int64, finite float, bytes); return it exactly typed."""
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise InvalidTracePoint(tp_id, field, value, "must fit in a signed 64-bit integer")
        return int(value)
    if isinstance(value, float):
        # NaN is never equal to itself and JSON has neither NaN nor infinities.
        if not math.isfinite(value):
            raise InvalidTracePoint(tp_id, field, value, "must be a finite number")
        return float(value)
    if isinstance(value, bytes):
        return bytes(value)
    text = exact_str(value)
    if text is None:
        raise InvalidTracePoint(tp_id, field, value, "must be a str, bool, int, float or bytes")
    return text


def check_target_value(tp_id: object, field: str, value: object) -> object:
    """Normalize a targeting value: lists become tuples, mappings ``FrozenMap``s, recursively."""
    if isinstance(value, Mapping):
        return check_target_map(tp_id, field, value)
    if isinstance(value, list | tuple):
        return tuple(
            check_target_value(tp_id, f"{field}[{index}]", item) for index, item in enumerate(value)
        )
    return check_scalar(tp_id, field, value)


def check_target_map(tp_id: object, field: str, value: object) -> FrozenMap[str, object]:
    """Normalize a mapping of targeting values with string keys into a ``FrozenMap``."""
    # ``dict`` first: a plain dict, the usual case, passes without the slower ABC check.
    if not isinstance(value, (dict, Mapping)):
        raise InvalidTracePoint(tp_id, field, value, "must be a mapping")
    items: dict[str, object] = {}
    for key, item in value.items():
        name = exact_str(key)
        if name is None:
            raise InvalidTracePoint(tp_id, field, key, "keys must be strings")
        items[name] = check_target_value(tp_id, f"{field}.{name}", item)
    return FrozenMap(items) if items else _EMPTY_MAP


def check_args(tp_id: object, args: object) -> FrozenMap[str, str]:
    """Check the args mapping (str to str) and every well-known arg in it."""
    # ``dict`` first: a plain dict, the usual case, passes without the slower ABC check.
    if not isinstance(args, (dict, Mapping)):
        raise InvalidTracePoint(tp_id, "args", args, "must be a mapping of strings to strings")
    items: dict[str, str] = {}
    for key, value in args.items():
        # Plain strs, the usual case, need neither normalizing nor a call.
        if type(key) is str and type(value) is str:
            items[key] = value
            continue
        name = exact_str(key)
        if name is None:
            raise InvalidTracePoint(tp_id, "args", key, "keys must be strings")
        items[name] = check_text(tp_id, f"args.{name}", value, empty_ok=True)
    if not items:
        return _EMPTY_MAP
    _check_well_known(tp_id, items)
    return FrozenMap(items)


def _check_well_known(tp_id: object, args: Mapping[str, str]) -> None:
    # The checks run in this fixed order, so that of several bad args the same one is always
    # reported. Args seldom name more than one or two ruled args: a set test skips the walk
    # over a group of rules when no arg of the group is present.
    if not _MINIMUM_NAMES.isdisjoint(args):
        for name, minimum in ARG_MINIMUMS.items():
            if name in args:
                number = parse_int_arg(args[name])
                if number is None or number < minimum:
                    raise InvalidTracePoint(
                        tp_id, f"args.{name}", args[name], f"must be an integer >= {minimum}"
                    )
    # Without both ends the window is open, and neither needs parsing.
    if "window_start" in args and "window_end" in args:
        start = int(args["window_start"])
        end = int(args["window_end"])
        if start and end and end < start:
            raise InvalidTracePoint(
                tp_id,
                "args.window_end",
                args["window_end"],
                f"must not be before window_start {start}",
            )
    if not _CHOICE_NAMES.isdisjoint(args):
        for name, choices in ARG_CHOICES.items():
            if name in args and args[name] not in choices:
                raise InvalidTracePoint(
                    tp_id,
                    f"args.{name}",
                    args[name],
                    f"must be one of {', '.join(sorted(choices))}",
                )
    if args.get("method_name") == "":
        raise InvalidTracePoint(tp_id, "args.method_name", "", "must not be empty")


def nested(err: InvalidTracePoint, tp_id: object, where: str, whole: str) -> InvalidTracePoint:
    """Re-home an error raised by a part (a metric, a label) under its place in the whole.

    The part names itself ``whole`` (say ``"label"``) and its own fields plainly
    (``"key"``); under ``where`` (``"labels[2]"``) they become ``"labels[2]"`` and
    ``"labels[2].key"``.
    """
    field = where if err.field == whole else f"{where}.{err.field}"
    return InvalidTracePoint(tp_id, field, err.value, err.reason)
