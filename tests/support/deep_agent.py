"""Driving the real Deep Python agent (``deep-agent``) in tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deep.api import Deep
from deep.config import ConfigService

from confighub.compat import TracepointConfigService
from tests.support import agent_target

APP_ROOT = str(Path(agent_target.__file__).parents[2])
"""The repository root, given to the agent as ``APP_ROOT``: the code it instruments is under it."""


def start_agent(
    target: str, service: TracepointConfigService, *, trace: bool = False, **settings: str
) -> Any:
    """Start a Deep agent polling ``target`` every 0.1 s with our compat ``service``.

    ``trace`` turns the agent's tracing on (for snapshots); ``settings`` add to its config.
    The caller shuts the agent down.
    """
    config = ConfigService(
        {
            "SERVICE_URL": target,
            "SERVICE_SECURE": "False",
            "POLL_TIMER": 0.1,
            "NO_TRACE": not trace,
            "APP_ROOT": APP_ROOT,
            **settings,
        },
        tracepoints=service,
    )
    agent = Deep(config)
    agent.start()
    return agent


def trigger_ids(agent: Any) -> set[str]:
    """The ids of the triggers the agent's trigger handler holds."""
    return {trigger.id for trigger in agent.trigger_handler._tp_config}
