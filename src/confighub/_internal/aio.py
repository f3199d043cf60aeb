"""Consuming an Observable with ``async for``.

Events may be published from any thread; they are handed to the consumer's
event loop with ``call_soon_threadsafe`` and queued there, in order, none
dropped. An iterator made inside a coroutine subscribes at once, bound to the
running loop; one made elsewhere subscribes on its first ``__anext__``. The
subscription is disposed when the stream ends, when the waiting task is
cancelled, or on ``aclose()`` / leaving ``async with``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from reactivex import Observable, abc

__all__ = ["ObservableIterator"]

_T = TypeVar("_T")


class ObservableIterator(Generic[_T]):
    """An async iterator (and async context manager) over an Observable's events."""

    def __init__(self, source: Observable[_T]) -> None:
        self._source = source
        self._subscription: abc.DisposableBase | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._items: deque[_T] = deque()
        self._end: BaseException | None = None
        self._ended = False
        self._closed = False
        self._wakeup: asyncio.Future[None] | None = None
        # Made inside a coroutine: subscribe now, so nothing published before the first
        # ``__anext__`` is missed. Elsewhere there is no loop yet.
        loop: asyncio.AbstractEventLoop | None = None
        with contextlib.suppress(RuntimeError):
            loop = asyncio.get_running_loop()
        if loop is not None:
            self._subscribe(loop)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> _T:
        if self._loop is None and not self._closed:
            self._subscribe(asyncio.get_running_loop())
        while not self._items:
            if self._ended or self._closed:
                self._close()
                if self._end is not None:
                    raise self._end
                raise StopAsyncIteration
            self._wakeup = asyncio.get_running_loop().create_future()
            try:
                await self._wakeup
            except asyncio.CancelledError:
                self._close()
                raise
        return self._items.popleft()

    async def aclose(self) -> None:
        """Unsubscribe; the iteration ends."""
        self._close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close()

    def _subscribe(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._subscription = self._source.subscribe(
            self._threadsafe(self._push),
            self._threadsafe(self._fail),
            self._threadsafe(self._complete),
        )

    def _close(self) -> None:
        self._closed = True
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.dispose()

    def _threadsafe(self, handler: Any) -> Any:
        def deliver(*args: Any) -> None:
            loop = self._loop
            if loop is None or loop.is_closed():
                return
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                handler(*args)
                return
            try:
                loop.call_soon_threadsafe(handler, *args)
            except RuntimeError:
                # The loop closed since the check above: nobody is left to iterate.
                return

        return deliver

    def _wake(self) -> None:
        wakeup, self._wakeup = self._wakeup, None
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    def _push(self, item: _T) -> None:
        self._items.append(item)
        self._wake()

    def _fail(self, error: Exception) -> None:
        self._end, self._ended = error, True
        self._wake()

    def _complete(self) -> None:
        self._ended = True
        self._wake()
