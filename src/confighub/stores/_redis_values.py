"""How ``RedisStore`` keeps a tracepoint in Redis, reads it back, and words its failures."""

from __future__ import annotations

import json
import logging
from typing import Final

from confighub._internal.text import cut, shown
from confighub.model import TracePoint

__all__ = ["SEED_HINT", "canonical_json", "parse_value", "reason"]

logger = logging.getLogger("confighub")

_MAX_VALUE: Final = 1024 * 1024
SEED_HINT: Final = (
    "write the whole config (confighub tp apply FILE, or PUT /api/tracepoints)"
    " or start a server with --seed FILE"
)
"""What to do about a namespace that holds no config, or lost it."""


def canonical_json(tp: TracePoint) -> str:
    """The JSON a tracepoint is kept as in Redis: sorted keys, no spaces, the same everywhere."""
    return json.dumps(tp.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def reason(err: BaseException) -> str:
    """Why a call of Redis failed, in words that can be shown (cut, no traceback)."""
    if isinstance(err, TimeoutError):
        return "no answer in time"
    return cut(str(err) or type(err).__name__, 200)


def parse_value(value: str, tp_id: str, where: str) -> tuple[int, TracePoint] | None:
    """The position and tracepoint of a stored ``"POSITION JSON"``; None (logged) if it is none."""
    try:
        if len(value) > _MAX_VALUE:
            raise ValueError(f"it is {len(value)} characters, over {_MAX_VALUE}")
        position, _, text = value.partition(" ")
        tp = TracePoint.from_json(json.loads(text))
        if tp.id != tp_id:
            raise ValueError(f"its body has the id {shown(tp.id)}")
        return int(position), tp
    except Exception as err:
        logger.warning(
            "%s: tracepoint %s left out, it does not read as one: %s",
            where,
            shown(tp_id),
            cut(str(err)),
        )
        return None
