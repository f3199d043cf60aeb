"""Shared test configuration."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

# CI machines are shared and noisy: a slow example is not a failure, so no per-example
# deadline. Properties still run their full number of examples.
settings.register_profile("confighub", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("confighub")

# pytester runs the README's plugin example in a fresh pytest process.
pytest_plugins = ["pytester"]
