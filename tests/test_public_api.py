"""The public surface: what `confighub` exports, and the exception family."""

from __future__ import annotations

import confighub
from confighub import exceptions


def test_exports_are_sorted_and_importable() -> None:
    """__all__ is sorted, every name in it exists, and DESIGN's names are there."""
    assert confighub.__all__ == sorted(confighub.__all__)
    for name in confighub.__all__:
        assert getattr(confighub, name) is not None
    assert {
        "TracePoint",
        "ConfigChange",
        "ConfigDiff",
        "ConfigHub",
        "InvalidTracePoint",
        "config_hash",
    } <= set(confighub.__all__)


def test_every_exception_derives_from_confighuberror() -> None:
    """One family under one base class; InvalidTracePoint is also a ValueError."""
    for name in exceptions.__all__:
        assert issubclass(getattr(exceptions, name), exceptions.ConfigHubError)
    assert issubclass(confighub.InvalidTracePoint, ValueError)
    assert issubclass(confighub.HubClosed, RuntimeError)
