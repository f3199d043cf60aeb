"""``python -m confighub``: the ``confighub`` command line."""

from confighub.cli import run

if __name__ == "__main__":
    run()
