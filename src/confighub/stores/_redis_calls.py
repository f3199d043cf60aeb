"""How a ``RedisStore``'s blocking calls reach its event loop, and the loop it may run on."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from redis.exceptions import RedisError

from confighub.exceptions import StoreUnavailable
from confighub.stores._redis_values import reason

if TYPE_CHECKING:
    from confighub.stores._redis_link import RedisLink

__all__ = ["OwnLoop", "call"]

_T = TypeVar("_T")


def call(link: RedisLink, work: Coroutine[Any, Any, _T]) -> _T:
    """Run ``work`` on ``link``'s loop from this (other) thread; Redis errors as 503s."""
    loop = link.loop
    if loop is None:
        work.close()
        raise StoreUnavailable(link.name, "it is not started: serve it, or call start()")
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        work.close()
        raise RuntimeError(
            "RedisStore writes wait for Redis: call them from another thread than the"
            " store's event loop (asyncio.to_thread)"
        )
    future = asyncio.run_coroutine_threadsafe(_guarded(link, work), loop)
    try:
        return future.result(link.timeout * 3)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise StoreUnavailable(
            link.name, "no answer in time: the write may have been made; read the config"
        ) from None


async def _guarded(link: RedisLink, work: Coroutine[Any, Any, _T]) -> _T:
    try:
        return await work
    except (RedisError, OSError) as err:
        raise StoreUnavailable(link.name, reason(err)) from None


class OwnLoop:
    """An event loop on a thread of its own, for a store used outside a ``HubServer``."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="confighub-redis", daemon=True
        )
        self._thread.start()

    def run(self, work: Coroutine[Any, Any, _T]) -> _T:
        """Run ``work`` on the loop and return what it returns."""
        return asyncio.run_coroutine_threadsafe(work, self._loop).result()

    def end(self) -> None:
        """Stop the loop, join its thread and close it."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
