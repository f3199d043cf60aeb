"""What the server tells its operator about its clients: refused calls and new agents.

Both are logged on the ``confighub.server`` logger, and both are bounded, since
clients decide how many there are: the first refusal from each peer host is a
WARNING of its own, and so is each new agent (a peer host with a resource it
has not polled with before) at INFO, but at most ``BURST`` such lines per
``SUMMARY_INTERVAL``; the rest are counted, and the count is logged once per
interval (and when the server stops). Which hosts and agents were seen is
remembered for the latest ``REMEMBERED`` of them. No line holds a credential:
the reasons come from the server's own checks, which never repeat a secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Final

from confighub._internal.text import counted, cut, shown
from confighub.server._targeting import resource_attributes

__all__ = ["BURST", "REMEMBERED", "SUMMARY_INTERVAL", "Audit", "peer_host"]

logger = logging.getLogger("confighub.server")

SUMMARY_INTERVAL: Final = 10.0
"""Seconds between two summaries of what was not logged line by line."""

BURST: Final = 10
"""Lines about single peers (refusals, new agents) each, per summary interval."""

REMEMBERED: Final = 4096
"""Peer hosts refused, and agents seen, remembered (the least recent are forgotten)."""


def peer_host(peer: str) -> str:
    """The host of a gRPC peer (``ipv4:10.0.0.1:5000`` → ``10.0.0.1``); other peers as they are."""
    kind, _, address = peer.partition(":")
    if kind in ("ipv4", "ipv6"):
        host, _, port = address.rpartition(":")
        if host and port.isdigit():
            return host
    return peer


class _Remembered:
    """A set of the latest ``size`` keys added."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._keys: OrderedDict[Hashable, None] = OrderedDict()

    def add(self, key: Hashable) -> bool:
        """Add ``key``; return whether it was new."""
        if key in self._keys:
            self._keys.move_to_end(key)
            return False
        self._keys[key] = None
        if len(self._keys) > self._size:
            self._keys.popitem(last=False)
        return True


class Audit:
    """The refusal and new-agent lines of one server; used on its event loop only."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._since = clock()
        self._refused_hosts = _Remembered(REMEMBERED)
        self._agents = _Remembered(REMEMBERED)
        self._lines = {logging.WARNING: 0, logging.INFO: 0}
        self._unlogged_refusals = 0
        self._latest_refusal = ("", "")
        self._unlogged_agents = 0
        self._timer: asyncio.TimerHandle | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Log the summaries every ``SUMMARY_INTERVAL`` on ``loop``."""
        self._timer = loop.call_later(SUMMARY_INTERVAL, self._tick, loop)

    def stop(self) -> None:
        """Log what is left to summarize, and summarize no more."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.flush()

    def refused(self, peer: str, reason: str) -> None:
        """Note a call refused for ``reason`` (the server's words, never the client's)."""
        peer = cut(peer, 100)
        if self._refused_hosts.add(peer_host(peer)) and self._line(logging.WARNING):
            logger.warning("refused a call from %s: %s", peer, reason)
            return
        self._unlogged_refusals += 1
        self._latest_refusal = (peer, reason)

    def polled(self, peer: str, resource: Any, key: bytes) -> None:
        """Note a poll accepted from ``peer`` with ``resource`` (whose bytes are ``key``).

        The agent is logged if it is new.
        """
        host = peer_host(peer)
        # A digest, not the resource: a remembered agent costs a few bytes, not its attributes.
        identity = hashlib.blake2b(key, digest_size=16).digest()
        if not self._agents.add((host, identity)):
            return
        if self._line(logging.INFO):
            attributes = shown(resource_attributes(resource))
            logger.info("new agent polling from %s, resource %s", cut(peer, 100), attributes)
        else:
            self._unlogged_agents += 1

    def flush(self) -> None:
        """Log the counts of what was not logged line by line since the last flush."""
        now = self._clock()
        seconds = now - self._since
        if self._unlogged_refusals:
            peer, reason = self._latest_refusal
            logger.warning(
                "refused %s in the last %.0f s; the latest from %s: %s",
                counted(self._unlogged_refusals, "more call"),
                seconds,
                peer,
                reason,
            )
        if self._unlogged_agents:
            logger.info(
                "%s started polling in the last %.0f s",
                counted(self._unlogged_agents, "more new agent"),
                seconds,
            )
        self._since = now
        self._unlogged_refusals = self._unlogged_agents = 0
        self._lines = dict.fromkeys(self._lines, 0)

    def _line(self, level: int) -> bool:
        if self._lines[level] >= BURST:
            return False
        self._lines[level] += 1
        return True

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        self.flush()
        self._timer = loop.call_later(SUMMARY_INTERVAL, self._tick, loop)
