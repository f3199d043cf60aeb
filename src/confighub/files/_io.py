"""Reading and writing tracepoint files: the functions ``confighub.files`` exports."""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib.resources
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import yaml

from confighub.exceptions import TracePointFileError
from confighub.files._limits import MAX_FILE_BYTES
from confighub.files._shape import SHAPE, Enough, EntryCache, Problems, tracepoints_of
from confighub.files._syntax import FORMAT_BY_SUFFIX, load_document, read_text
from confighub.model import TracePoint

__all__ = [
    "dump_tracepoints",
    "example_path",
    "file_problems",
    "load_tracepoints",
    "parse_tracepoints",
]

_DUMPER: Final[Any] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_TOP_KEY: Final = "tracepoints"


def parse_tracepoints(
    text: str, *, source: str = "<string>", format: str | None = None
) -> tuple[TracePoint, ...]:
    """Parse the text of a tracepoint file into validated tracepoints.

    ``format`` is ``"yaml"``, ``"json"`` or None (the default: JSON if the text
    parses as JSON, else YAML); ``source`` names the document in errors. Raises
    ``TracePointFileError`` for the first problem found.
    """
    return _read(text, source, format, Problems(source))


def load_tracepoints(path: str | os.PathLike[str]) -> tuple[TracePoint, ...]:
    """Read a tracepoint file: JSON for ``.json``, YAML for ``.yaml``/``.yml``, else either.

    Raises ``TracePointFileError`` for the first problem found.
    """
    source = os.fspath(path)
    return parse_tracepoints(read_text(source), source=source, format=_format_of(source))


def load_reusing(path: str | os.PathLike[str], cache: EntryCache) -> tuple[TracePoint, ...]:
    """``load_tracepoints``, reusing the tracepoints of ``cache``'s last good read.

    An entry unchanged since then gives the same object; after a good read, ``cache``
    holds this one. Raises ``TracePointFileError`` like ``load_tracepoints``.
    """
    source = os.fspath(path)
    text = read_text(source)
    cache.start()
    tracepoints = _read(text, source, _format_of(source), Problems(source), cache)
    cache.keep()
    return tracepoints


def file_problems(
    path: str | os.PathLike[str], *, limit: int = 50
) -> tuple[TracePointFileError, ...]:
    """Every problem of the tracepoint file at ``path``, up to ``limit``; () if it is good.

    The file is read once. Each invalid tracepoint, each duplicate id and each unknown
    top-level key is one problem, in the order of the file. A file that cannot be read
    or parsed has the one problem that says why.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit!r}")
    source = os.fspath(path)
    problems = Problems(source, limit)
    try:
        _read(read_text(source), source, _format_of(source), problems)
    except TracePointFileError as err:  # unreadable or unparseable: nothing more to check
        return (err,)
    except Enough:
        pass
    return tuple(problems.found)


def dump_tracepoints(tracepoints: Iterable[TracePoint], *, format: str = "yaml") -> str:
    """Return the text of a tracepoint file holding ``tracepoints``, in ``"yaml"`` or ``"json"``."""
    document = {_TOP_KEY: [tp.to_dict() for tp in tracepoints]}
    if format == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if format == "yaml":
        text: str = yaml.dump(document, Dumper=_DUMPER, sort_keys=False, allow_unicode=True)
        return text
    raise ValueError(f"unknown tracepoint file format {format!r} (expected 'yaml' or 'json')")


# Keeps the example extracted while the process lives when confighub runs from a zip.
_RESOURCES = contextlib.ExitStack()
atexit.register(_RESOURCES.close)


@functools.cache
def example_path() -> Path:
    """Return the path of the bundled example file, ``confighub/examples/tracepoints.yaml``."""
    resource = importlib.resources.files("confighub") / "examples" / "tracepoints.yaml"
    return _RESOURCES.enter_context(importlib.resources.as_file(resource))


def _format_of(source: str) -> str | None:
    return FORMAT_BY_SUFFIX.get(Path(source).suffix.lower())


def _read(
    text: str,
    source: str,
    format: str | None,
    problems: Problems,
    cache: EntryCache | None = None,
) -> tuple[TracePoint, ...]:
    if format not in (None, "yaml", "json"):
        raise ValueError(f"unknown tracepoint file format {format!r} (expected 'yaml' or 'json')")
    if len(text) > MAX_FILE_BYTES:
        reason = f"the text is longer than the limit of {MAX_FILE_BYTES:,} characters"
        raise TracePointFileError(source, None, reason)
    if not text.strip():
        raise TracePointFileError(source, None, f"the file is empty; {SHAPE}")
    data, root = load_document(text, source, format)
    return tracepoints_of(data, root, problems, cache)
