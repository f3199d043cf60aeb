"""Shared test configuration and fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from confighub import ConfigHub
from tests.support.poll_server import PollServer, PollServicer
from tests.support.redis_server import RedisServer

# CI machines are shared and noisy: a slow example is not a failure, so no per-example
# deadline. Properties still run their full number of examples. `make test` runs the same
# examples every time (derandomized), so that a run's verdict is the code's, not the
# draw's; CONFIGHUB_HYPOTHESIS=explore draws new examples, ten times as many, to hunt.
_QUIET = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("confighub", _QUIET, derandomize=True)
settings.register_profile("explore", _QUIET, max_examples=1000)
settings.load_profile(os.environ.get("CONFIGHUB_HYPOTHESIS", "confighub"))

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


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh redis-server of the test's own on 127.0.0.1 and a free port, stopped after it.

    One per test, never shared and flushed: it starts in about 10 ms, and a test that leaves
    keys, a password or a stopped server behind cannot reach the next one.
    """
    with RedisServer(tmp_path / "redis") as running:
        yield running
