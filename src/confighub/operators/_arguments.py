"""Checking the operators' arguments when an operator is made, so a bad one fails at ``pipe``."""

from __future__ import annotations

import math
from datetime import timedelta

__all__ = ["duration"]


def duration(operator: str, name: str, value: object, *, allow_zero: bool) -> timedelta:
    """``value`` (seconds or a ``timedelta``) as a timedelta; an error naming the argument."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise TypeError(
            f"{operator}: {name} must be a number of seconds or a timedelta, got {value!r}"
        )
    if math.isnan(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{operator}: {name} must be {bound} seconds, got {value!r}")
    return timedelta(seconds=seconds)
