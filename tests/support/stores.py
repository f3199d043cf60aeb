"""Small stores for the tests: takes no writes, fails, waits, or lost its config."""

from __future__ import annotations

import threading
from collections.abc import Callable

from confighub import TracePoint
from confighub.server import MemoryStore, StoreState
from confighub.stores import StoreCallback


class PlainStore:
    """A ``Store`` and nothing more: it can be read and followed, not written."""

    def __init__(self, inner: MemoryStore) -> None:
        self._inner = inner

    @property
    def state(self) -> StoreState:
        """The inner store's config."""
        return self._inner.state

    def subscribe(self, callback: StoreCallback) -> Callable[[], None]:
        """Follow the inner store."""
        return self._inner.subscribe(callback)


class FailingStore(MemoryStore):
    """A ``MemoryStore`` whose every write raises what ``failure()`` makes, changing nothing."""

    def __init__(self, tracepoints: list[TracePoint], failure: Callable[[], Exception]) -> None:
        super().__init__(tracepoints)
        self._failure = failure
        self.available = True

    def create(self, tp: TracePoint, *, expected_hash: str | None = None) -> StoreState:
        """Fail."""
        raise self._failure()

    def replace(self, tp: TracePoint, *, expected_hash: str | None = None) -> StoreState:
        """Fail."""
        raise self._failure()

    def delete(
        self, tp_id: str, *, expected_hash: str | None = None
    ) -> tuple[StoreState, TracePoint]:
        """Fail."""
        raise self._failure()


class GatedStore(MemoryStore):
    """A ``MemoryStore`` whose ``replace`` waits for ``release`` (a slow disk), saying it began."""

    def __init__(self, tracepoints: list[TracePoint]) -> None:
        super().__init__(tracepoints)
        self.writing = threading.Event()
        self.release = threading.Event()

    def replace(self, tp: TracePoint, *, expected_hash: str | None = None) -> StoreState:
        """Replace once released."""
        self.writing.set()
        if not self.release.wait(timeout=30):
            raise TimeoutError("the test never released the write")
        return super().replace(tp, expected_hash=expected_hash)


class UninitializedStore(MemoryStore):
    """A ``MemoryStore`` that says it lost its config and waits for a whole one to be set."""

    initialized = False


class ConfiglessStore(MemoryStore):
    """A ``MemoryStore`` that says whether it holds any config at all yet (``holds_config``)."""

    def __init__(self, tracepoints: list[TracePoint]) -> None:
        super().__init__(tracepoints)
        self.holding = False

    @property
    def holds_config(self) -> bool:
        """What the test set: False as a shared store that was never seeded."""
        return self.holding
