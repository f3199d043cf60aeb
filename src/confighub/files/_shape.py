"""From a document to tracepoints: the ``{tracepoints: [...]}`` shape and each entry's validation.

The problems found go to a ``Problems``: one that raises the first at once (loading a
file) or one that collects them, up to a limit, and lets the checks go on past each
(``file_problems``). A problem is reported at the line of the offending top-level key,
or of the first line of the entry that failed; every value quoted is cut to a bound.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import yaml

from confighub._internal.text import cut, shown
from confighub.exceptions import InvalidTracePoint, TracePointFileError
from confighub.model import TracePoint

__all__ = ["SHAPE", "Enough", "EntryCache", "Problems", "tracepoints_of"]

SHAPE: Final = "expected a mapping with a 'tracepoints' list"
_TOP_KEY: Final = "tracepoints"
# Room for an InvalidTracePoint's id, field, value (each cut by it) and reason.
_ENTRY_ERROR_LENGTH: Final = 800


class Enough(Exception):
    """A collecting ``Problems`` is full: the checks stop there."""


class Problems:
    """Where the problems of one document go: raised at once, or kept up to ``limit``."""

    def __init__(self, source: str, limit: int | None = None) -> None:
        self.source = source
        self.limit = limit
        self.found: list[TracePointFileError] = []

    def add(self, line: int | None, reason: str, cause: BaseException | None = None) -> None:
        """Report one problem: raise it (no limit), or keep it and raise ``Enough`` when full."""
        problem = TracePointFileError(self.source, line, reason)
        if self.limit is None:
            raise problem from cause
        problem.__cause__ = cause
        self.found.append(problem)
        if len(self.found) >= self.limit:
            raise Enough


class EntryCache:
    """The tracepoints of one file's last good read, by the ``repr`` of their parsed entries.

    Two entries with one ``repr`` are one structure of the same types (a safe YAML or
    JSON load builds only dicts, lists, strings, numbers, booleans, None, bytes and
    dates, whose reprs are exact), so they validate to equal tracepoints with equal
    digests: an unchanged entry gets the object built before, neither built nor
    validated again. ``==`` would not do: ``1 == 1.0 == True``, and these validate,
    and hash, differently.
    """

    def __init__(self) -> None:
        self._kept: dict[str, TracePoint] = {}
        self._read: dict[str, TracePoint] = {}

    def start(self) -> None:
        """Begin a read: what it builds is kept only if ``keep`` follows."""
        self._read = {}

    def keep(self) -> None:
        """The read is good: later reads reuse its tracepoints (and no older ones)."""
        self._kept, self._read = self._read, {}

    def tracepoint(self, entry: object) -> TracePoint:
        """``TracePoint.from_dict(entry)``, or the tracepoint of an identical earlier entry."""
        key = repr(entry)
        tp = self._kept.get(key)
        if tp is None:
            tp = TracePoint.from_dict(entry)
        self._read[key] = tp
        return tp


def tracepoints_of(
    data: object, root: Any, problems: Problems, cache: EntryCache | None = None
) -> tuple[TracePoint, ...]:
    """The tracepoints of a parsed document, each problem reported to ``problems``.

    What is returned is whole only when no problem was reported; a collecting
    ``problems`` gets every problem it can find, not just the first. With ``cache``,
    an entry identical to one of the cache's last good read reuses its tracepoint.
    """
    if data is None:
        problems.add(None, f"the file holds no document; {SHAPE}")
        return ()
    if not isinstance(data, Mapping):
        problems.add(_node_line(root), f"{SHAPE}, got {_kind(data)}")
        return ()
    nodes = _key_nodes(root)
    for key in data:
        if key != _TOP_KEY:
            text = _key_text(key)
            pair = nodes.get(text) if text is not None else None
            line = _node_line(pair[0] if pair is not None else None)
            problems.add(line, f"unknown top-level key {shown(key)}; {SHAPE}")
    if _TOP_KEY not in data:
        problems.add(_node_line(root), f"no 'tracepoints' key; {SHAPE}")
        return ()
    entries = data[_TOP_KEY]
    key_node, list_node = nodes.get(_TOP_KEY, (None, None))
    if not isinstance(entries, list):
        reason = f"'tracepoints' must be a list (use [] for none), got {_kind(entries)}"
        problems.add(_node_line(key_node), reason)
        return ()
    lines: list[int | None] = [None] * len(entries)
    if isinstance(list_node, yaml.SequenceNode) and len(list_node.value) == len(entries):
        lines = [_node_line(item) for item in list_node.value]
    build = TracePoint.from_dict if cache is None else cache.tracepoint
    return _validated(entries, lines, problems, build)


def _validated(
    entries: list[object],
    lines: list[int | None],
    problems: Problems,
    build: Callable[[object], TracePoint],
) -> tuple[TracePoint, ...]:
    tracepoints: list[TracePoint] = []
    first_seen: dict[str, str] = {}
    for number, (entry, line) in enumerate(zip(entries, lines, strict=True), start=1):
        where = f"entry #{number}" + ("" if line is None else f" (line {line})")
        try:
            tp = build(entry)
        except InvalidTracePoint as err:
            # Cut again: the field it names may be a key from the file (an args key).
            # The problem's place already gives the line; the entry's number says which.
            reason = f"tracepoint entry #{number}: {cut(str(err), _ENTRY_ERROR_LENGTH)}"
            problems.add(line, reason, err)
            continue
        if tp.id in first_seen:
            reason = f"duplicate tracepoint id {shown(tp.id)}: {first_seen[tp.id]} and {where}"
            problems.add(line, reason)
            continue
        first_seen[tp.id] = where
        tracepoints.append(tp)
    return tuple(tracepoints)


def _key_text(key: object) -> str | None:
    """A key as its node's text, to find its line; None for one that cannot be a str."""
    try:
        return str(key)
    except ValueError:  # a YAML hex integer past the digits str() writes
        return None


def _kind(value: object) -> str:
    return "nothing" if value is None else f"a {type(value).__name__}"


def _node_line(node: Any) -> int | None:
    return None if node is None else int(node.start_mark.line) + 1


def _key_nodes(root: Any) -> dict[str, tuple[Any, Any]]:
    if not isinstance(root, yaml.MappingNode):
        return {}
    return {
        str(key.value): (key, value)
        for key, value in root.value
        if isinstance(key, yaml.ScalarNode)  # a collection as a key is unknown all the same
    }
