"""Tracepoint files: YAML or JSON documents of the shape ``{tracepoints: [...]}``.

Every problem becomes a ``TracePointFileError`` naming the file and, when it
can be known, the line: of a syntax error, of the offending top-level key, or
of the first line of the tracepoint entry that failed validation.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib.resources
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import yaml

from confighub.exceptions import InvalidTracePoint, TracePointFileError
from confighub.model import TracePoint

__all__ = ["dump_tracepoints", "example_path", "load_tracepoints", "parse_tracepoints"]

# libyaml's loader is several times faster; the pure-Python one behaves the same.
_LOADER: Final[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER: Final[Any] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_FORMAT_BY_SUFFIX: Final = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}
_TOP_KEY: Final = "tracepoints"
_SHAPE: Final = "expected a mapping with a 'tracepoints' list"


def parse_tracepoints(
    text: str, *, source: str = "<string>", format: str | None = None
) -> tuple[TracePoint, ...]:
    """Parse the text of a tracepoint file into validated tracepoints.

    ``format`` is ``"yaml"``, ``"json"`` or None (the default: JSON if the text
    parses as JSON, else YAML); ``source`` names the document in errors. Raises
    ``TracePointFileError``.
    """
    if format not in (None, "yaml", "json"):
        raise ValueError(f"unknown tracepoint file format {format!r} (expected 'yaml' or 'json')")
    if not text.strip():
        raise TracePointFileError(source, None, f"the file is empty; {_SHAPE}")
    if format == "json":
        data, root = _load_json(text, source), _compose_quietly(text)
    elif format == "yaml":
        data, root = _load_yaml(text, source)
    else:
        data, root = _load_unknown(text, source)
    return _tracepoints(data, root, source)


def load_tracepoints(path: str | os.PathLike[str]) -> tuple[TracePoint, ...]:
    """Read a tracepoint file: JSON for ``.json``, YAML for ``.yaml``/``.yml``, else either."""
    source = os.fspath(path)
    try:
        text = Path(source).read_text(encoding="utf-8-sig")
    except OSError as err:
        raise TracePointFileError(source, None, f"cannot read the file: {err.strerror}") from err
    except UnicodeDecodeError as err:
        raise TracePointFileError(source, None, f"not UTF-8 text ({err.reason})") from err
    suffix = Path(source).suffix.lower()
    return parse_tracepoints(text, source=source, format=_FORMAT_BY_SUFFIX.get(suffix))


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


def _load_json(text: str, source: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        reason = f"invalid JSON: {err.msg} (column {err.colno})"
        raise TracePointFileError(source, err.lineno, reason) from err


def _load_unknown(text: str, source: str) -> tuple[object, Any]:
    # What parses as JSON is read as JSON: YAML 1.1 reads a few JSON strings differently
    # (it refuses control characters and folds U+0085 as a line break).
    if text.lstrip().startswith(("{", "[")):
        with contextlib.suppress(json.JSONDecodeError):
            return json.loads(text), _compose_quietly(text)
    return _load_yaml(text, source)


def _load_yaml(text: str, source: str) -> tuple[object, Any]:
    # One parse gives both the data and the node tree that knows each entry's line.
    loader = _LOADER(text)
    try:
        root = loader.get_single_node()
        data = None if root is None else loader.construct_document(root)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        line = None if mark is None else mark.line + 1
        raise TracePointFileError(source, line, f"invalid YAML: {_describe(err)}") from err
    finally:
        loader.dispose()
    return data, root


def _describe(err: yaml.YAMLError) -> str:
    if isinstance(err, yaml.MarkedYAMLError):
        parts = [part for part in (err.context, err.problem) if part]
        if parts:
            return ", ".join(parts)
    return str(err)


def _compose_quietly(text: str) -> Any:
    # JSON is (nearly) YAML, which is how JSON files get line numbers; none if that fails.
    try:
        return yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError:
        return None


def _kind(value: object) -> str:
    return "nothing" if value is None else f"a {type(value).__name__}"


def _node_line(node: Any) -> int | None:
    return None if node is None else int(node.start_mark.line) + 1


def _key_nodes(root: Any) -> dict[str, tuple[Any, Any]]:
    if not isinstance(root, yaml.MappingNode):
        return {}
    return {str(key.value): (key, value) for key, value in root.value}


def _tracepoints(data: object, root: Any, source: str) -> tuple[TracePoint, ...]:
    if data is None:
        raise TracePointFileError(source, None, f"the file holds no document; {_SHAPE}")
    if not isinstance(data, Mapping):
        raise TracePointFileError(source, _node_line(root), f"{_SHAPE}, got {_kind(data)}")
    nodes = _key_nodes(root)
    for key in data:
        if key != _TOP_KEY:
            line = _node_line(nodes.get(str(key), (None,))[0])
            raise TracePointFileError(source, line, f"unknown top-level key {key!r}; {_SHAPE}")
    if _TOP_KEY not in data:
        raise TracePointFileError(source, _node_line(root), f"no 'tracepoints' key; {_SHAPE}")
    entries = data[_TOP_KEY]
    key_node, list_node = nodes.get(_TOP_KEY, (None, None))
    if not isinstance(entries, list):
        reason = f"'tracepoints' must be a list (use [] for none), got {_kind(entries)}"
        raise TracePointFileError(source, _node_line(key_node), reason)
    lines: list[int | None] = [None] * len(entries)
    if isinstance(list_node, yaml.SequenceNode) and len(list_node.value) == len(entries):
        lines = [_node_line(item) for item in list_node.value]
    return _validated(entries, lines, source)


def _validated(
    entries: list[object], lines: list[int | None], source: str
) -> tuple[TracePoint, ...]:
    tracepoints: list[TracePoint] = []
    first_seen: dict[str, str] = {}
    for number, (entry, line) in enumerate(zip(entries, lines, strict=True), start=1):
        where = f"entry #{number}" + ("" if line is None else f" (line {line})")
        try:
            tp = TracePoint.from_dict(entry)
        except InvalidTracePoint as err:
            raise TracePointFileError(source, line, f"tracepoint {where}: {err}") from err
        if tp.id in first_seen:
            reason = f"duplicate tracepoint id {tp.id!r}: {first_seen[tp.id]} and {where}"
            raise TracePointFileError(source, line, reason)
        first_seen[tp.id] = where
        tracepoints.append(tp)
    return tuple(tracepoints)
