"""``with`` blocks: ``start()`` on entry and ``stop()`` on exit, or just ``close()`` on exit."""

from __future__ import annotations

from types import TracebackType
from typing import Self

__all__ = ["Closing", "StartStop"]


class StartStop:
    """A mixin: ``with thing:`` starts it and stops it, whatever happens inside."""

    def start(self) -> Self:
        """Begin running in the background; return self."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop running and release every thread and connection."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class Closing:
    """A mixin: ``with thing:`` gives the thing and closes it, whatever happens inside."""

    def close(self) -> None:
        """Release what the thing holds."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
