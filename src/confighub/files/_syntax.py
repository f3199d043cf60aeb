"""From a file's bytes to a document: read within the size bound, then parsed as YAML or JSON.

Every failure is a ``TracePointFileError`` naming the file and, when it can be known,
the line. That covers what the parsers raise and also what Python raises on their
behalf: a ``RecursionError`` of a deep document, the ``ValueError`` of an integer of
more digits than ``int()`` reads or of a date like ``2026-13-45``. The document comes
with its YAML node tree (JSON is nearly YAML), which knows the line of each entry.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from typing import Any, Final

import yaml

from confighub._internal.text import cut
from confighub.exceptions import TracePointFileError
from confighub.files._limits import (
    MAX_FILE_BYTES,
    TOO_DEEP,
    check_depth,
    check_nodes,
    deep_line,
)

__all__ = ["FORMAT_BY_SUFFIX", "load_document", "read_text"]

FORMAT_BY_SUFFIX: Final = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}
_LIBYAML_TOO_DEEP: Final = "exceeded maximum nesting depth"


class _BoundedConstruction(yaml.constructor.SafeConstructor):
    """Building a value that Python refuses is a YAML error at that value's line."""

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except Exception as err:
            # Not only int() past its digits and dates like 2026-13-45: given an explicit
            # tag on a scalar of the wrong form (``!!int ''``, ``!!timestamp x``), PyYAML's
            # constructors fail with whatever their parsing raises (IndexError, KeyError...).
            problem = f"cannot read this value: {cut(f'{type(err).__name__}: {err}')}"
            raise yaml.constructor.ConstructorError(None, None, problem, node.start_mark) from err


class _PythonLoader(_BoundedConstruction, yaml.SafeLoader):
    """PyYAML's safe loader, pure Python, with bounded construction."""


_LOADER: Any = _PythonLoader
if yaml.__with_libyaml__:

    class _LibyamlLoader(_BoundedConstruction, yaml.CSafeLoader):
        """libyaml's safe loader, several times faster, which also bounds nesting itself."""

    _LOADER = _LibyamlLoader


def read_text(path: str) -> str:
    """The text of the file at ``path``, refused unread past ``MAX_FILE_BYTES``."""
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise TracePointFileError(path, None, f"cannot read the file: {err.strerror}") from err
    if len(data) > MAX_FILE_BYTES:
        reason = f"the file is larger than the limit of {MAX_FILE_BYTES:,} bytes; it was not read"
        raise TracePointFileError(path, None, reason)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise TracePointFileError(path, line, f"not UTF-8 text ({err.reason})") from err
    # Universal newlines, as reading in text mode gives, so that JSON counts lines as YAML does.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def load_document(text: str, source: str, format: str | None) -> tuple[object, Any]:
    """The document in ``text`` and its node tree (None if unknown), by ``format`` or guessed."""
    if format == "json":
        return _load_json(text, source), _compose_quietly(text)
    if format == "yaml":
        return _load_yaml(text, source)
    # What parses as JSON is read as JSON: YAML 1.1 reads a few JSON strings differently
    # (it refuses control characters and folds U+0085 as a line break).
    if text.lstrip().startswith(("{", "[")):
        with contextlib.suppress(_NotJSON):
            return _load_json(text, source, guessing=True), _compose_quietly(text)
    return _load_yaml(text, source)


class _NotJSON(Exception):
    """The text is not JSON syntax: it may still be YAML."""


def _load_json(text: str, source: str, *, guessing: bool = False) -> object:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        if guessing:
            raise _NotJSON from err
        reason = f"invalid JSON: {err.msg} (column {err.colno})"
        raise TracePointFileError(source, err.lineno, reason) from err
    except RecursionError as err:  # the decoder recurses: it gives up far past MAX_DEPTH
        raise TracePointFileError(source, deep_line(text), TOO_DEEP) from err
    except ValueError as err:  # the only other: an integer of more digits than int() reads
        reason = f"invalid JSON: {cut(str(err))}"
        raise TracePointFileError(source, _long_number_line(text), reason) from err
    check_depth(data, source, text)
    return data


def _long_number_line(text: str) -> int | None:
    digits = sys.get_int_max_str_digits()
    found = re.search(f"[0-9]{{{digits + 1},}}", text) if digits else None
    return None if found is None else text.count("\n", 0, found.start()) + 1


def _load_yaml(text: str, source: str) -> tuple[object, Any]:
    # One parse gives both the node tree, which is checked against the limits before
    # anything is built from it, and the data.
    loader = _LOADER(text)
    try:
        root = loader.get_single_node()
        check_nodes(root, source)
        data = None if root is None else loader.construct_document(root)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        line = None if mark is None else mark.line + 1
        reason = f"invalid YAML: {_describe(err)}"
        if _LIBYAML_TOO_DEEP in reason:  # libyaml's own bound (1000), met before ours
            reason = TOO_DEEP
        raise TracePointFileError(source, line, reason) from err
    except RecursionError as err:  # the pure-Python composer has no bound of its own
        raise TracePointFileError(source, deep_line(text), TOO_DEEP) from err
    finally:
        loader.dispose()
    return data, root


def _describe(err: yaml.YAMLError) -> str:
    if isinstance(err, yaml.MarkedYAMLError):
        parts = [part for part in (err.context, err.problem) if part]
        if parts:
            return cut(", ".join(parts))
    return cut(str(err))


def _compose_quietly(text: str) -> Any:
    # Only for the lines of JSON entries, so a failure just leaves them unknown. JSON has
    # no aliases, and its depth was checked when it was read.
    try:
        return yaml.compose(text, Loader=_LOADER)
    except (yaml.YAMLError, RecursionError):
        return None
