"""The code keeps the architecture that docs/architecture.md describes.

The page's table has one row per entry of ``src/confighub`` (a package, or a top-level
module; the root package's own file is ``__init__``) and says which other entries its
files may import. These tests read the table from the page, so the page and the code
cannot drift apart, and check every module file of ``src/confighub`` against it:

- each runtime import of confighub (absolute or relative; imports under
  ``if TYPE_CHECKING:`` do not count) goes to an entry its row allows;
- every module file is covered by a row, and every row by a module;
- no import of confighub happens inside a function (an import at call time, to dodge
  a cycle, is not allowed);
- the module-level imports have no cycle.

Cycles are found over module files. ``import confighub.a.b`` and
``from confighub.a.b import n`` are edges to the file of ``confighub.a.b``;
``from confighub.a import n`` is an edge to ``confighub/a/__init__.py``, or to the
file of ``confighub.a.n`` when ``n`` is a submodule. Importing ``confighub.a.b`` also
runs ``confighub/a/__init__.py`` first, so it is an edge to that file too, unless the
importing file is itself inside package ``confighub.a`` (a package's ``__init__``
importing its own submodules is the normal direction).
"""

from __future__ import annotations

import ast
import functools
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Final, NamedTuple

ROOT: Final = Path(__file__).resolve().parent.parent
PACKAGE: Final = ROOT / "src" / "confighub"
PAGE: Final = ROOT / "docs" / "architecture.md"
PAGE_NAME: Final = "docs/architecture.md"
PACKAGE_NAME: Final = "confighub"

HEADER: Final = re.compile(r"\|\s*Entry\s*\|\s*What it holds\s*\|\s*May import\s*\|")
ENTRY_CELL: Final = re.compile(r"`(\w+)`")
NAME_LIST: Final = re.compile(r"`\w+`(?:\s*,\s*`\w+`)*")
ANYTHING: Final = "anything"
NOTHING: Final = "nothing"


class Rule(NamedTuple):
    """One row of the table: an entry, and the entries it may import (None: any)."""

    line: int
    allowed: frozenset[str] | None


class Import(NamedTuple):
    """One import of a confighub module by a file of src/confighub."""

    file: Path
    line: int
    text: str
    target: str
    in_function: bool


def _cells(row: str) -> list[str]:
    """The cells of a Markdown table row, splitting on pipes outside code spans."""
    cells: list[str] = []
    cell: list[str] = []
    in_code = False
    for char in row.strip().removeprefix("|").removesuffix("|"):
        if char == "`":
            in_code = not in_code
        if char == "|" and not in_code:
            cells.append("".join(cell).strip())
            cell = []
        else:
            cell.append(char)
    cells.append("".join(cell).strip())
    return cells


@functools.cache
def rules() -> Mapping[str, Rule]:
    """The table of docs/architecture.md: each entry and what it may import."""
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    headers = [number for number, line in enumerate(lines) if HEADER.fullmatch(line.strip())]
    assert len(headers) == 1, f"{PAGE_NAME}: expected one table headed {HEADER.pattern!r}"
    table: dict[str, Rule] = {}
    number = headers[0] + 2  # past the header and its separator row
    while number < len(lines) and lines[number].lstrip().startswith("|"):
        at = f"{PAGE_NAME}:{number + 1}"
        cells = _cells(lines[number])
        assert len(cells) == 3, f"{at}: expected 3 cells, got {cells}"
        entry_cell, _holds, may_import = cells
        entry = ENTRY_CELL.fullmatch(entry_cell)
        assert entry, f"{at}: the first cell must be one `name`, got {entry_cell!r}"
        assert entry[1] not in table, f"{at}: a second row for {entry[1]!r}"
        allowed: frozenset[str] | None
        if may_import == ANYTHING:
            allowed = None
        elif may_import == NOTHING:
            allowed = frozenset()
        else:
            assert NAME_LIST.fullmatch(may_import), (
                f"{at}: 'May import' must be {NOTHING!r}, {ANYTHING!r} or"
                f" `name`, `name`, ...; got {may_import!r}"
            )
            allowed = frozenset(re.findall(r"`(\w+)`", may_import))
        table[entry[1]] = Rule(number + 1, allowed)
        number += 1
    assert table, f"{PAGE_NAME}: the table has no rows"
    return table


def module_files() -> list[Path]:
    """Every module file of src/confighub."""
    return sorted(PACKAGE.rglob("*.py"))


def module_name(file: Path) -> str:
    """The dotted name of a module file: ``confighub.a.b`` (a package: its own name)."""
    parts = file.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def entry_of_file(file: Path) -> str:
    """The table entry of a module file: its package under confighub, or its module name."""
    parts = file.relative_to(PACKAGE).parts
    return Path(parts[0]).stem if len(parts) == 1 else parts[0]


def entry_of_module(name: str) -> str:
    """The table entry of a dotted module name (``confighub`` itself: ``__init__``)."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


@functools.cache
def files_by_module() -> Mapping[str, Path]:
    """Each module's dotted name and its file."""
    return {module_name(file): file for file in module_files()}


def _is_type_checking(test: ast.expr) -> bool:
    """Whether an ``if`` test is ``TYPE_CHECKING`` (or ``typing.TYPE_CHECKING``)."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_statements(
    nodes: Iterable[ast.AST], in_function: bool = False
) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """The import statements in ``nodes`` that run, each with whether it is in a function."""
    for node in nodes:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _runtime_statements(node.orelse, in_function)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            yield node, in_function
        else:
            inner = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            yield from _runtime_statements(ast.iter_child_nodes(node), inner)


def _from_base(file: Path, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` names, resolving a relative one."""
    if not node.level:
        return node.module or ""
    package = module_name(file).split(".")
    if file.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


@functools.cache
def imports() -> tuple[Import, ...]:
    """Every runtime import of confighub by the module files of src/confighub."""
    found: list[Import] = []
    modules = files_by_module()
    for file in module_files():
        source = file.read_text(encoding="utf-8")
        for node, in_function in _runtime_statements(ast.parse(source, str(file)).body):
            text = " ".join((ast.get_source_segment(source, node) or "").split())
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = _from_base(file, node)
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    targets.append(submodule if submodule in modules else base)
            found.extend(
                Import(file, node.lineno, text, target, in_function)
                for target in targets
                if target.split(".")[0] == PACKAGE_NAME
            )
    return tuple(found)


def where(file: Path, line: int) -> str:
    """``src/confighub/x.py:12``, for messages."""
    return f"{file.relative_to(ROOT)}:{line}"


def edges() -> dict[Path, dict[Path, Import]]:
    """The module-level import graph over module files, each edge with an import behind it."""
    modules = files_by_module()
    graph: dict[Path, dict[Path, Import]] = {file: {} for file in module_files()}
    for found in imports():
        if found.in_function:
            continue
        importer = module_name(found.file).split(".")
        if found.file.name != "__init__.py":
            importer = importer[:-1]  # the package the importing file is in
        parts = found.target.split(".")
        # The module itself (or its nearest enclosing module, if it names an attribute).
        names = [".".join(parts[:end]) for end in range(len(parts), 0, -1)]
        target = next((name for name in names if name in modules), None)
        if target is not None:
            graph[found.file].setdefault(modules[target], found)
        # Its packages' __init__ files run first, except those of the importer's own packages.
        for end in range(1, len(parts)):
            if parts[:end] != importer[:end] and ".".join(parts[:end]) in modules:
                graph[found.file].setdefault(modules[".".join(parts[:end])], found)
    return graph


def cycles(graph: Mapping[Path, Mapping[Path, Import]]) -> list[list[Path]]:
    """One cycle through each strongly connected component with a cycle (Tarjan)."""
    index: dict[Path, int] = {}
    low: dict[Path, int] = {}
    stack: list[Path] = []
    on_stack: set[Path] = set()
    components: list[list[Path]] = []

    def connect(node: Path) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph[node]:
            if successor not in index:
                connect(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component: list[Path] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                components.append(component)

    for node in graph:
        if node not in index:
            connect(node)
    return [_cycle_in(sorted(component), graph) for component in components]


def _cycle_in(component: list[Path], graph: Mapping[Path, Mapping[Path, Import]]) -> list[Path]:
    """A shortest cycle from the component's first file back to itself, within it."""
    start, members = component[0], set(component)
    paths: dict[Path, list[Path]] = {start: [start]}
    queue = [start]
    for node in queue:
        for successor in graph[node]:
            if successor == start:
                return [*paths[node], start]
            if successor in members and successor not in paths:
                paths[successor] = [*paths[node], successor]
                queue.append(successor)
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover - Tarjan found one


def test_table_parses() -> None:
    """The architecture table has rows, and each names only entries of the table."""
    table = rules()
    unknown = [
        f"{PAGE_NAME}:{rule.line}: {entry!r} may import unknown entries {sorted(names)}"
        for entry, rule in table.items()
        if rule.allowed is not None and (names := rule.allowed - table.keys())
    ]
    assert not unknown, "\n".join(unknown)


def test_every_module_is_covered_by_a_row() -> None:
    """Every module file of src/confighub falls under a row of the table."""
    table = rules()
    uncovered = [
        f"{file.relative_to(ROOT)}: entry {entry_of_file(file)!r} has no row in {PAGE_NAME}"
        for file in module_files()
        if entry_of_file(file) not in table
    ]
    assert not uncovered, "\n".join(uncovered)


def test_every_row_covers_a_module() -> None:
    """Every row of the table names a package or module that exists in src/confighub."""
    present = {entry_of_file(file) for file in module_files()}
    stale = [
        f"{PAGE_NAME}:{rule.line}: {entry!r} is no package or module of src/confighub"
        for entry, rule in rules().items()
        if entry not in present
    ]
    assert not stale, "\n".join(stale)


def test_imports_follow_the_table() -> None:
    """Each runtime import of confighub goes to an entry that the importer's row allows."""
    table = rules()
    wrong: list[str] = []
    for found in imports():
        importer, imported = entry_of_file(found.file), entry_of_module(found.target)
        rule = table.get(importer)
        if rule is None or rule.allowed is None or imported in {importer, *rule.allowed}:
            continue  # no row is test_every_module_is_covered_by_a_row's failure
        allowed = ", ".join(sorted(rule.allowed)) or NOTHING
        wrong.append(
            f"{where(found.file, found.line)}: `{found.text}` imports {imported!r};"
            f" {importer!r} may import only: {allowed} ({PAGE_NAME}:{rule.line})"
        )
    assert not wrong, "\n".join(dict.fromkeys(wrong))


def test_no_import_of_confighub_inside_a_function() -> None:
    """No module of src/confighub imports confighub at call time, inside a function."""
    late = [
        f"{where(found.file, found.line)}: `{found.text}` inside a function"
        for found in imports()
        if found.in_function
    ]
    assert not late, "\n".join(dict.fromkeys(late))


def test_no_import_cycles() -> None:
    """The module-level imports among the files of src/confighub have no cycle."""
    graph = edges()
    found: list[str] = []
    for cycle in cycles(graph):
        steps = [
            f"{where(a, graph[a][b].line)} `{graph[a][b].text}`"
            for a, b in itertools.pairwise(cycle)
        ]
        found.append(" ->\n  ".join([*steps, str(cycle[-1].relative_to(ROOT))]))
    assert not found, "import cycles:\n" + "\n".join(found)
