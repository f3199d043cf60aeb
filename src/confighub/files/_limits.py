"""The bounds a tracepoint file is read within, and the checks that hold a document to them.

A file comes from outside and may be hostile or broken: a few hundred bytes of YAML
aliases can stand for billions of nodes ("billion laughs"), and a deep enough nesting
overflows every recursive walk of the document, ours and the model's. So before the
document is built, its YAML node graph is walked once (each node once, however many
aliases share it) and refused past these bounds, with the line where it went past them.
"""

from __future__ import annotations

from typing import Any, Final

import yaml

from confighub.exceptions import TracePointFileError

__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "TOO_DEEP",
    "check_depth",
    "check_nodes",
    "deep_line",
]

MAX_FILE_BYTES: Final = 16 * 1024 * 1024
"""The largest file read, in bytes: thousands of times a real config, and read in well
under a second; past it the file is refused unread."""

MAX_DEPTH: Final = 64
"""The deepest nesting of lists and mappings: a tracepoint file needs four or five (the
document, the list, an entry, its targeting); Python's recursion limit is far deeper."""

MAX_ALIAS_NODES: Final = 100_000
"""How many nodes YAML aliases may add to a document, beyond those written out.

Aliases are bounded, not refused: anchors and merge keys (``<<: *defaults``) are how a
file shares one targeting or one set of args among many tracepoints, which adds a few
thousand nodes at most. An alias bomb adds billions; at this bound the model's walk of
the expanded document stays a fraction of a second.
"""


TOO_DEEP: Final = f"lists and mappings nested deeper than {MAX_DEPTH} levels"
"""The reason given for a document past ``MAX_DEPTH``, whichever check found it."""

# libyaml's parser is several times faster; the pure-Python one gives the same events.
_EVENT_LOADER: Final[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _line(node: Any) -> int:
    return int(node.start_mark.line) + 1


def _children(node: Any) -> list[Any]:
    if isinstance(node, yaml.MappingNode):
        return [item for pair in node.value for item in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def check_nodes(root: Any, source: str) -> None:
    """Refuse a YAML node graph past ``MAX_DEPTH`` or ``MAX_ALIAS_NODES``, or with a cycle.

    The walk is iterative, so a deep graph cannot overflow it, and each node is walked
    once: a node met again (through an alias) adds its size and height, known by then.
    """
    if root is None:
        return
    done: dict[int, tuple[int, int]] = {}  # id(node): (nodes it expands to, nesting height)
    # One frame per collection on the path from the root: node, children left, size, height.
    path: list[tuple[Any, list[Any], list[int]]] = [(root, _children(root)[::-1], [1, 0])]
    on_path = {id(root)}
    added = 0
    while path:
        node, children, totals = path[-1]
        if not children:
            path.pop()
            on_path.discard(id(node))
            size, height = totals[0], totals[1] + 1
            done[id(node)] = (size, height)
            if path:
                parent = path[-1][2]
                parent[0] += size
                parent[1] = max(parent[1], height)
            continue
        child = children.pop()
        if id(child) in on_path:
            reason = (
                f"a YAML alias refers to the collection that holds it (anchored at line"
                f" {_line(child)}), which would never end"
            )
            raise TracePointFileError(source, _line(node), reason)
        if id(child) in done:
            size, height = done[id(child)]
            added += size
            if added > MAX_ALIAS_NODES:
                reason = (
                    f"YAML aliases expand the document by more than {MAX_ALIAS_NODES:,} nodes"
                    " beyond those written out (an alias bomb?)"
                )
                raise TracePointFileError(source, _line(node), reason)
            if len(path) + height > MAX_DEPTH:
                raise TracePointFileError(source, _line(node), TOO_DEEP)
            totals[0] += size
            totals[1] = max(totals[1], height)
        elif isinstance(child, yaml.ScalarNode):
            done[id(child)] = (1, 0)
            totals[0] += 1
        else:
            if len(path) + 1 > MAX_DEPTH:
                raise TracePointFileError(source, _line(child), TOO_DEEP)
            path.append((child, _children(child)[::-1], [1, 0]))
            on_path.add(id(child))


def check_depth(data: object, source: str, text: str) -> None:
    """Refuse parsed JSON nested deeper than ``MAX_DEPTH``, at the line where it goes past."""
    pending: list[tuple[object, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise TracePointFileError(source, deep_line(text), TOO_DEEP)
            items = value.values() if isinstance(value, dict) else value
            pending.extend((item, depth + 1) for item in items)


def deep_line(text: str) -> int | None:
    """The line where ``text`` (YAML, or JSON read as YAML) nests past ``MAX_DEPTH``, if known."""
    # Only to name the line of an error: the parser's events come one at a time, without
    # the recursion of composing a document.
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_EVENT_LOADER):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    return _mark_line(event.start_mark)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as err:
        # libyaml looks ahead, and may meet its own bound on nesting (1000) first: the line
        # of that is deep enough too.
        return _mark_line(err.problem_mark)
    except yaml.YAMLError:
        return None
    return None


def _mark_line(mark: Any) -> int | None:
    return None if mark is None else int(mark.line) + 1
