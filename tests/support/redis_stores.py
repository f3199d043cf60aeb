"""``RedisStore`` in tests: started on a thread of its own, closed after, and waited on.

``running(url, ...)`` is a started store that the ``with`` block closes; ``same_config``
waits until several stores serve one config (a replica catching up with a write);
``raw_writes`` runs the store's own write script from a plain client, many in one atomic
step, the way another server would, but faster than any follower can read them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import redis

from confighub.model import TracePoint
from confighub.stores import RedisStore
from confighub.stores._redis_link import RedisKeys
from confighub.stores._redis_scripts import WRITE
from confighub.stores._redis_values import canonical_json
from tests.support.waiting import wait_until

__all__ = ["config_of", "keys", "raw_writes", "running", "same_config", "stored"]

CATCH_UP = 10.0
"""How long a replica may take to serve a write made elsewhere (it takes milliseconds)."""


@contextmanager
def running(url: str, **options: Any) -> Iterator[RedisStore]:
    """A ``RedisStore(url, **options)`` started on its own thread, closed after the block."""
    store = RedisStore(url, **options).start()
    try:
        yield store
    finally:
        store.close()


def config_of(store: RedisStore) -> tuple[str, list[bytes]]:
    """What ``store`` serves, told apart by content: its hash and each tracepoint's digest."""
    state = store.state
    return state.hash, [tp.digest for tp in state.tracepoints]


def same_config(*stores: RedisStore, timeout: float = CATCH_UP) -> None:
    """Wait until every store serves the first one's config (same hash, same tracepoints)."""
    first = stores[0]
    wait_until(
        lambda: all(config_of(store) == config_of(first) for store in stores[1:]),
        f"{len(stores) - 1} store(s) to serve {first!r}",
        timeout,
    )


def stored(op: str, tp: TracePoint) -> tuple[str, str, str]:
    """The write ``op`` of ``tp`` for ``raw_writes``, its JSON as a store writes it."""
    return op, tp.id, canonical_json(tp)


def keys(namespace: str, tenant: str = "") -> dict[str, str]:
    """The Redis keys of ``namespace`` (and of ``tenant``'s tracepoints), by name."""
    named = RedisKeys.of_namespace(namespace)
    return {
        "initialized": named.initialized,
        "seq": named.seq,
        "log": named.log,
        "revs": named.revs,
        "next": named.next,
        "changes": named.channel,
        "tp": named.tracepoints(tenant),
    }


def raw_writes(
    client: redis.Redis,
    namespace: str,
    writes: Sequence[tuple[str, str, str]],
    *,
    log_length: int = 10,
    before: Sequence[tuple[str, ...]] = (),
) -> list[Any]:
    """Run the write script once per ``(op, id, json)`` of the default tenant, atomically.

    The JSON is stored as given (``stored`` makes a tracepoint's as a store does).
    ``before`` are commands run first in the same transaction (``("CLIENT", "KILL",
    ...)``), so nothing else runs between them and the writes. Returns each answer.
    """
    named = keys(namespace)
    script_keys = [named[name] for name in ("initialized", "seq", "log", "revs", "next", "tp")]
    sha = client.script_load(WRITE)
    with client.pipeline(transaction=True) as pipe:
        for command in before:
            pipe.execute_command(*command)  # type: ignore[no-untyped-call]
        for op, tp_id, value in writes:
            args: list[str | int] = ["", op, tp_id, value, "", log_length, named["changes"]]
            pipe.evalsha(sha, len(script_keys), *script_keys, *args)
        answers: list[Any] = pipe.execute()
    return answers
