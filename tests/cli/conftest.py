"""Fixtures of the command-line tests."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture
def dead_target() -> str:
    """A loopback address nothing listens on (its port was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return f"127.0.0.1:{port}"
