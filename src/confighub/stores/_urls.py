"""``open_store``: the store a URL names, for the command line's ``--store``.

One URL says which kind of store and where, so that a command takes one option
whatever the store. Only ``sqlite:PATH`` is served now; a ``redis://`` URL is named
as one still to come, not as a mistake. A URL may carry a password (``redis`` URLs
do), and an error message may end up in a log: every message shows the URL with its
userinfo and query cut out.
"""

from __future__ import annotations

import re
from typing import Final

from confighub._internal.text import shown
from confighub.stores._sqlite import SqliteStore
from confighub.stores._store import Store

__all__ = ["open_store"]

_SCHEMES: Final = "sqlite:PATH (a file, relative or absolute)"
_LATER: Final = frozenset({"redis", "rediss"})
_SCHEME: Final = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*):(?P<rest>.*)", re.DOTALL)


def open_store(url: str) -> Store:
    """Open the store that ``url`` names: ``sqlite:PATH`` is a ``SqliteStore`` on ``PATH``.

    ``PATH`` is taken as written, relative to the working directory unless absolute
    (``sqlite://…`` is refused: other tools read it in other ways).
    Any other URL raises ``ValueError`` naming the URLs accepted (``redis://`` ones:
    not supported yet); a store that cannot be opened raises ``StoreUnavailable``.
    """
    if not isinstance(url, str):
        raise TypeError(f"a store URL is a string, got {type(url).__name__}")
    match = _SCHEME.fullmatch(url)
    if match is None:
        raise ValueError(f"{_safe(url)} is not a store URL: use {_SCHEMES}")
    scheme, path = match["scheme"].lower(), match["rest"]
    if scheme == "sqlite":
        if not path:
            raise ValueError(f"the store URL sqlite: names no file: use {_SCHEMES}")
        if path.startswith("//"):
            # SQLAlchemy reads sqlite:///x.db as a relative path, POSIX as /x.db: refused
            # rather than guessed.
            raise ValueError(
                f"{_safe(url)}: write sqlite:PATH without //, as sqlite:/var/lib/hub.db"
                " or sqlite:hub.db"
            )
        return SqliteStore(path)
    if scheme in _LATER:
        raise ValueError(f"{_safe(url)}: {scheme}:// stores are not supported yet; use {_SCHEMES}")
    raise ValueError(f"{_safe(url)}: unknown store scheme {shown(scheme, 40)}; use {_SCHEMES}")


def _safe(url: str) -> str:
    """``url`` shown without what may hold a secret: its userinfo and its query.

    Up to the *last* ``@`` goes, not the first: a password written without escaping
    may hold ``@`` or ``/`` itself, and too much cut from a message is better than a
    password shown.
    """
    match = _SCHEME.fullmatch(url)
    scheme, rest = (match["scheme"] + ":", match["rest"]) if match is not None else ("", url)
    slashes = "//" if rest.startswith("//") else ""
    rest = rest.removeprefix(slashes)
    if "@" in rest:
        rest = "***@" + rest.rpartition("@")[2]
    for mark in "?#":
        if mark in rest:
            rest = rest.partition(mark)[0] + mark + "…"
    return shown(scheme + slashes + rest, 120)
