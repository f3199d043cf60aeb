"""``open_store``: the store a URL names, for the command line's ``--store``.

One URL says which kind of store and where, so that a command takes one option
whatever the store: ``sqlite:PATH`` or ``redis://HOST:PORT/DB`` (``rediss://`` with
TLS). A URL may carry a password (``redis`` URLs do), and an error message may end
up in a log: every message shows the URL with its userinfo and query cut out. A
password kept out of the URL (and so out of process listings) is read from
``CONFIGHUB_REDIS_PASSWORD``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

from confighub._internal.text import shown
from confighub._internal.urls import shown_url
from confighub.model import TracePoint
from confighub.stores._redis import RedisStore
from confighub.stores._sqlite import SqliteStore
from confighub.stores._store import Store

__all__ = ["REDIS_PASSWORD_ENV", "open_store"]

REDIS_PASSWORD_ENV: Final = "CONFIGHUB_REDIS_PASSWORD"
"""Where a Redis password is read from when the URL holds none."""

_SCHEMES: Final = "sqlite:PATH (a file, relative or absolute) or redis://HOST:PORT/DB"
_SCHEME: Final = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*):(?P<rest>.*)", re.DOTALL)


def open_store(url: str, *, seed: Iterable[TracePoint] | None = None) -> Store:
    """Open the store that ``url`` names: a ``SqliteStore`` or a ``RedisStore``.

    ``sqlite:PATH`` takes ``PATH`` as written, relative to the working directory
    unless absolute (``sqlite://…`` is refused: other tools read it in other ways).
    ``redis://HOST:PORT/DB`` and ``rediss://…`` are a ``RedisStore`` (not connected
    until served), its password from the URL or else ``CONFIGHUB_REDIS_PASSWORD``;
    ``seed`` is what it writes when Redis holds no config (``ValueError`` for
    another store). Any other URL raises ``ValueError`` naming the URLs accepted; a
    store that cannot be opened raises ``StoreUnavailable``.
    """
    if not isinstance(url, str):
        raise TypeError(f"a store URL is a string, got {type(url).__name__}")
    match = _SCHEME.fullmatch(url)
    if match is None:
        raise ValueError(f"{shown_url(url)} is not a store URL: use {_SCHEMES}")
    scheme, path = match["scheme"].lower(), match["rest"]
    if scheme in ("redis", "rediss"):
        return _redis(url, seed)
    if seed is not None:
        raise ValueError(f"{shown_url(url)}: a seed is for a redis:// store, which can be emptied")
    if scheme == "sqlite":
        if not path:
            raise ValueError(f"the store URL sqlite: names no file: use {_SCHEMES}")
        if path.startswith("//"):
            # SQLAlchemy reads sqlite:///x.db as a relative path, POSIX as /x.db: refused
            # rather than guessed.
            raise ValueError(
                f"{shown_url(url)}: write sqlite:PATH without //, as sqlite:/var/lib/hub.db"
                " or sqlite:hub.db"
            )
        return SqliteStore(path)
    raise ValueError(f"{shown_url(url)}: unknown store scheme {shown(scheme, 40)}; use {_SCHEMES}")


def _redis(url: str, seed: Iterable[TracePoint] | None) -> RedisStore:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - read for its check: a port that is no number raises
    except ValueError:
        raise ValueError(f"{shown_url(url)} is not a Redis URL: use redis://HOST:PORT/DB") from None
    if not parts.hostname:
        raise ValueError(f"{shown_url(url)} names no host: use redis://HOST:PORT/DB")
    password = None if parts.password else os.environ.get(REDIS_PASSWORD_ENV) or None
    return RedisStore(url, password=password, seed=seed)
