"""Build the notebooks from their sources in ``sources/`` and run them to fill in the outputs.

::

    .venv/bin/python notebooks/build.py             # every notebook (or: make notebooks)
    .venv/bin/python notebooks/build.py 02 03       # those whose name starts with 02 or 03

A source is a Python file in the "percent" format (as jupytext and several editors read it):
``# %%`` starts a code cell and ``# %% [markdown]`` a markdown cell, whose lines are comments.
Anything before the first marker (the module docstring) is not part of the notebook. So the
cells are reviewed, linted and diffed as Python, and the notebook is rebuilt from them.

Each notebook is executed from scratch in a fresh kernel (the ``python3`` kernel, which runs
on this interpreter) with ``notebooks/`` as its working directory, and written with its outputs.
What would change on every run is left out: execution timings, the Python version, and random
cell ids (each id is derived from the cell's source instead).
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat import NotebookNode

NOTEBOOKS = Path(__file__).resolve().parent
SOURCES = NOTEBOOKS / "sources"
MARKER = "# %%"
MARKDOWN = "# %% [markdown]"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def cells_of(source: str) -> list[tuple[str, str]]:
    """The ``(kind, text)`` cells of a percent-format ``source``, kind "code" or "markdown"."""
    cells: list[tuple[str, list[str]]] = []
    for line in source.splitlines():
        if line.startswith(MARKER):
            kind = "markdown" if line.strip() == MARKDOWN else "code"
            cells.append((kind, []))
        elif cells:
            kind, lines = cells[-1]
            lines.append(_uncommented(line) if kind == "markdown" else line)
    return [(kind, "\n".join(lines).strip("\n")) for kind, lines in cells]


def _uncommented(line: str) -> str:
    if line in {"", "#"}:
        return ""
    if not line.startswith("# "):
        raise ValueError(f"a markdown line must start with '# ', got {line!r}")
    return line[2:]


def notebook_of(path: Path) -> NotebookNode:
    """A notebook, without outputs, of the cells in the source at ``path``."""
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC})
    for kind, text in cells_of(path.read_text(encoding="utf-8")):
        if not text:
            raise ValueError(f"{path.name}: an empty {kind} cell")
        new = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        notebook.cells.append(new(text))
    _stable_ids(notebook)
    return notebook


def _stable_ids(notebook: NotebookNode) -> None:
    # An id from the cell's text stays put when other cells are added or edited.
    taken: set[str] = set()
    for cell in notebook.cells:
        digest = hashlib.sha256(cell.source.encode()).hexdigest()
        cell_id = digest[:8]
        n = 2
        while cell_id in taken:
            cell_id, n = f"{digest[:8]}-{n}", n + 1
        taken.add(cell_id)
        cell.id = cell_id


def execute(notebook: NotebookNode) -> None:
    """Run every cell of ``notebook`` in a fresh kernel, in ``notebooks/``; raise on an error."""
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()
    # The kernel reports its exact version; it would change the file on every other machine.
    notebook.metadata.get("language_info", {}).pop("version", None)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)


def build(source: Path) -> Path:
    """Write the notebook of ``source`` next to this script, executed, with its outputs."""
    notebook = notebook_of(source)
    execute(notebook)
    nbformat.validate(notebook)
    target = NOTEBOOKS / f"{source.stem}.ipynb"
    nbformat.write(notebook, target)
    return target


def main(argv: list[str]) -> int:
    """Build the notebooks whose names start with one of ``argv`` (every one when empty)."""
    sources = sorted(SOURCES.glob("*.py"))
    chosen = [path for path in sources if not argv or path.stem.startswith(tuple(argv))]
    if not chosen:
        print(f"no source in {SOURCES} starts with {' or '.join(argv)}", file=sys.stderr)
        return 1
    for source in chosen:
        started = time.perf_counter()
        target = build(source)
        size = target.stat().st_size / 1024
        elapsed = time.perf_counter() - started
        print(f"{target.relative_to(NOTEBOOKS.parent)}: {size:.0f} KiB, ran in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
