"""The notebooks: committed with their outputs, built from their sources, and running from scratch.

Each notebook runs in a fresh ``python3`` kernel, which jupyter_client starts with this
interpreter (the kernelspec's ``python`` becomes ``sys.executable``), in ``notebooks/``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat import NotebookNode

import confighub

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
# Appended to the copy that runs from scratch: which Python, and which confighub, the kernel has.
KERNEL_CHECK = (
    "import json, sys, confighub\n"
    'print(json.dumps({"prefix": sys.prefix, "confighub": confighub.__file__}))'
)


def read(path: Path) -> NotebookNode:
    """The notebook at ``path``, in nbformat 4."""
    # nbformat's read and cell builders carry no annotations (validate and the rest do).
    notebook: NotebookNode = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    return notebook


def code_cells(notebook: NotebookNode) -> list[NotebookNode]:
    """The code cells that have something to run."""
    return [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source.strip()]


def problems(cell: NotebookNode) -> list[str]:
    """What is wrong with a run cell's outputs: none at all, an error, or anything on stderr."""
    found = [] if cell.outputs else ["no output"]
    for output in cell.outputs:
        if output.output_type == "error":
            found.append(f"{output.ename}: {output.evalue}")
        elif output.output_type == "stream" and output.name == "stderr":
            found.append(f"stderr: {output.text}")
    return found


def build_script() -> ModuleType:
    """notebooks/build.py, imported from its file (notebooks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOKS / "build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_three_notebooks_are_there() -> None:
    """notebooks/ holds exactly the quick start, the operators and the replay notebooks."""
    assert [path.name for path in PATHS] == [
        "01-quickstart.ipynb",
        "02-operators.ipynb",
        "03-replay.ipynb",
    ]


@pytest.mark.parametrize("path", PATHS, ids=lambda path: path.stem)
def test_committed_with_an_output_for_every_code_cell_run_in_order(path: Path) -> None:
    """Every code cell has outputs and none is an error or stderr; they ran 1, 2, 3, ... in turn."""
    notebook = read(path)
    nbformat.validate(notebook)
    cells = code_cells(notebook)

    assert [cell.execution_count for cell in cells] == list(range(1, len(cells) + 1))
    assert {cell.id: problems(cell) for cell in cells if problems(cell)} == {}


@pytest.mark.parametrize("path", PATHS, ids=lambda path: path.stem)
def test_committed_cells_are_those_of_the_source(path: Path) -> None:
    """The notebook holds the cells of sources/<name>.py as they are: it was rebuilt after edits."""
    built = build_script().notebook_of(NOTEBOOKS / "sources" / f"{path.stem}.py")
    committed = read(path)

    def cells(notebook: NotebookNode) -> list[tuple[str, str, str]]:
        return [(cell.id, cell.cell_type, cell.source) for cell in notebook.cells]

    assert cells(committed) == cells(built), f"run `make notebooks` to rebuild {path.name}"


@pytest.mark.parametrize("path", PATHS, ids=lambda path: path.stem)
def test_runs_from_scratch_in_a_kernel_of_this_python(path: Path) -> None:
    """Cleared of its outputs, it runs in a fresh kernel of this venv and fills every code cell."""
    notebook = read(path)
    for cell in code_cells(notebook):
        cell.outputs = []
        cell.execution_count = None
    probe: NotebookNode = nbformat.v4.new_code_cell(KERNEL_CHECK)  # type: ignore[no-untyped-call]
    notebook.cells.append(probe)
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )

    client.execute()  # raises CellExecutionError, with the cell and its traceback, on an error

    *cells, ran_probe = code_cells(notebook)
    missing = [cell.id for cell in cells if not cell.outputs]
    errors = [out for cell in cells for out in cell.outputs if out.output_type == "error"]
    assert (missing, errors) == ([], [])
    assert json.loads(ran_probe.outputs[0].text) == {
        "prefix": sys.prefix,
        "confighub": confighub.__file__,
    }
