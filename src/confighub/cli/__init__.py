"""The ``confighub`` command line: a thin layer over the library.

``main(argv) -> int`` runs a command in-process and returns its exit code;
``run()`` is the console script. Options are parsed in ``_main``, the commands'
work is done in ``_actions``, changes are rendered by ``_render``, and the
``demo`` scenario is ``_demo``.
"""

from confighub.cli._main import main, run

__all__ = ["main", "run"]
