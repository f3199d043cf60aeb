"""Shared test configuration and fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from confighub import ConfigHub
from tests.support.poll_server import PollServer, PollServicer

# CI machines are shared and noisy: a slow example is not a failure, so no per-example
# deadline. Properties still run their full number of examples.
settings.register_profile("confighub", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("confighub")

# pytester runs the README's plugin example in a fresh pytest process.
pytest_plugins = ["pytester"]


@pytest.fixture
def hub() -> Iterator[ConfigHub]:
    """A ConfigHub, closed after the test."""
    with ConfigHub() as the_hub:
        yield the_hub


@pytest.fixture
def server() -> Iterator[PollServer]:
    """A plain deep-proto PollConfig servicer on 127.0.0.1, port 0, stopped after the test."""
    running = PollServer(PollServicer()).start()
    yield running
    running.stop()
