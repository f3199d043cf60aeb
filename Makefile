# Two commands on a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs what it needs; nothing global is required.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck docs unit bench notebooks clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("confighub needs Python >= 3.11") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,notebooks]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/confighub demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

unit: $(VENV)/.installed-dev
	$(BIN)/pytest

# The documentation (mkdocs.yml, docs/), built like code: any warning fails the build.
# NO_MKDOCS_2_WARNING silences Material's end-of-life banner, which is not a build warning.
docs: $(VENV)/.installed-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

test: lint typecheck docs unit

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/dispatch.py
	$(BIN)/python benchmarks/operators.py
	$(BIN)/python benchmarks/wire.py
	$(BIN)/python benchmarks/replay.py
	$(BIN)/python benchmarks/large_config.py
	$(BIN)/python benchmarks/management.py

# Rebuild notebooks/*.ipynb from notebooks/sources/ and run them to fill in their outputs.
notebooks: $(VENV)/.installed-dev
	$(BIN)/python notebooks/build.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis site
