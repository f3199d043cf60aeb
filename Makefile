# Two commands on a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs what it needs; nothing global is required.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck docs unit bench notebooks clean redis-server

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

# The tests and benchmarks start their own redis-server (tests/support/redis_server.py) on
# 127.0.0.1 and a free port; this installs the binary when it is missing, with Debian's
# package (as root, or through sudo). It starts no service: a system Redis that the package
# may start on 6379 is never used. The demo does not need Redis.
REDIS_MISSING := install redis-server (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) and run make test again

redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then sudo=; elif command -v sudo >/dev/null 2>&1; then sudo=sudo; \
	  else sudo=none; fi; \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$sudo" != none ]; then \
	    echo "redis-server is not on PATH: installing Debian's package"; \
	    $$sudo apt-get update && \
	      $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server; \
	  fi; \
	  command -v redis-server >/dev/null 2>&1 || { \
	    echo "error: redis-server is not on PATH: $(REDIS_MISSING)" >&2; exit 1; }; }

demo: $(VENV)/.installed
	$(BIN)/confighub demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

unit: $(VENV)/.installed-dev redis-server
	$(BIN)/pytest

# The documentation (mkdocs.yml, docs/), built like code: any warning fails the build.
# NO_MKDOCS_2_WARNING silences Material's end-of-life banner, which is not a build warning.
docs: $(VENV)/.installed-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# redis-server first: a machine that cannot have it fails before the slow steps.
test: redis-server lint typecheck docs unit

bench: $(VENV)/.installed-dev redis-server
	$(BIN)/python benchmarks/dispatch.py
	$(BIN)/python benchmarks/operators.py
	$(BIN)/python benchmarks/wire.py
	$(BIN)/python benchmarks/replay.py
	$(BIN)/python benchmarks/large_config.py
	$(BIN)/python benchmarks/management.py
	$(BIN)/python benchmarks/scale_out.py

# Rebuild notebooks/*.ipynb from notebooks/sources/ and run them to fill in their outputs.
notebooks: $(VENV)/.installed-dev
	$(BIN)/python notebooks/build.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis site
