# Every target builds or refreshes .venv itself, so a fresh clone needs only python3 (>= 3.11).
# The installer is uv, at the version requirements.lock pins (dev extra): a `uv` on PATH of that
# version is used as it is; otherwise it is installed once per machine into UV_HOME. Where uv
# cannot be had, pip does the same install, slower.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CLI := $(BIN)/osaka-unei
LOCK := requirements.lock
PORT ?= 8001
NOTEBOOK_PORT ?= 8888
NOTEBOOK_STAMP := $(VENV)/.notebook-installed

UV_VERSION := $(shell sed -n 's/^uv==\([^ ]*\).*/\1/p' $(LOCK))
UV_HOME ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/osaka-unei/uv-$(UV_VERSION)
# `uv` on PATH only if it reports the pinned version; else the one in UV_HOME.
PATH_UV := $(shell case "$$(uv --version 2>/dev/null)" in \
	("uv $(UV_VERSION)"|"uv $(UV_VERSION) "*) command -v uv;; esac)
UV ?= $(or $(PATH_UV),$(UV_HOME)/bin/uv)
# Run before uv is needed: a recursive make, so that a failed bootstrap is retried only when the
# venv is next (re)installed, not by every target.
ensure_uv = @[ -x "$(UV)" ] || $(MAKE) --no-print-directory "$(UV_HOME)/bin/uv"
N_LOCKED = $(shell grep -c '^[A-Za-z0-9]' $(LOCK))
say = @echo "osaka-unei setup: $(1)"

.PHONY: all fetch build test test-quick lint format bench lock clean-venv venv serve report \
	notebook notebook-outputs

all: fetch build report

# Bootstrap: the uv wheel alone, hash-checked against the lock, with pip into UV_HOME. A failure
# is not fatal: the $(STAMP) recipe then falls back to pip.
$(UV_HOME)/bin/uv:
	$(call say,installing uv $(UV_VERSION) into $(UV_HOME) (once per machine))
	@set -u; tmp="$(UV_HOME).tmp.$$$$"; req="$$tmp.txt"; rm -rf "$$tmp"; \
	mkdir -p "$(dir $(UV_HOME))"; \
	awk '/^uv==/{p=1;print;next} p&&/^ /{print;next} {p=0}' $(LOCK) >"$$req"; \
	if $(PYTHON) -m pip --version >/dev/null 2>&1; then pip="$(PYTHON) -m pip"; \
	else $(PYTHON) -m venv "$$tmp.venv" >/dev/null 2>&1; pip="$$tmp.venv/bin/python -m pip"; fi; \
	if out=$$(PIP_ROOT_USER_ACTION=ignore $$pip install --quiet --disable-pip-version-check \
			--target "$$tmp" --require-hashes -r "$$req" 2>&1) \
		&& "$$tmp/bin/uv" --version >/dev/null 2>&1; then \
		rm -rf "$(UV_HOME)" && mv "$$tmp" "$(UV_HOME)"; \
	else \
		echo "$$out" | tail -n 5; \
		echo "osaka-unei setup: could not install uv; pip will do the install instead"; \
	fi; \
	rm -rf "$$tmp" "$$tmp.venv" "$$req"

$(STAMP): pyproject.toml $(LOCK)
	$(ensure_uv)
	@set -e; \
	if "$(UV)" --version >/dev/null 2>&1; then \
		if [ ! -x $(BIN)/python ]; then \
			echo "osaka-unei setup: creating $(VENV) with uv $(UV_VERSION)"; \
			"$(UV)" venv --quiet --no-python-downloads --python $(PYTHON) $(VENV); \
		fi; \
		echo "osaka-unei setup: installing $(N_LOCKED) locked packages with uv (hash-checked)"; \
		"$(UV)" pip sync --quiet --python $(BIN)/python --require-hashes $(LOCK); \
		echo "osaka-unei setup: installing osaka-unei itself (editable, no deps)"; \
		"$(UV)" pip install --quiet --python $(BIN)/python --no-deps -e .; \
	else \
		echo "osaka-unei setup: uv unavailable, falling back to pip (slower)"; \
		if [ ! -x $(BIN)/python ]; then \
			echo "osaka-unei setup: creating $(VENV) with $(PYTHON) -m venv"; \
			$(PYTHON) -m venv $(VENV); \
		fi; \
		$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip --upgrade; \
		echo "osaka-unei setup: installing $(N_LOCKED) locked packages with pip (hash-checked)"; \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r $(LOCK); \
		echo "osaka-unei setup: installing osaka-unei itself (editable, no deps)"; \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .; \
	fi
	@touch $@

venv: $(STAMP)

# Incremental and offline-tolerant: with no route to the site it says so and exits 0.
fetch: $(STAMP)
	$(CLI) fetch

build: $(STAMP)
	$(CLI) build

# The whole suite, one test file per worker on every core (pytest-xdist; --dist loadfile keeps a
# file's module fixtures and servers in one process). PYTEST_ARGS=... adds options.
test: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadfile $(PYTEST_ARGS)

# The inner loop of parse and dataset changes: every test not marked slow (tests/conftest.py).
test-quick: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" -q $(PYTEST_ARGS)

# ruff, then the type checker (mypy, settings in pyproject.toml: src/, untyped defs refused).
lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

bench: $(STAMP)
	$(BIN)/python bench/run.py

# The static report (charts as inline SVG), written by the CLI.
report: $(STAMP)
	$(CLI) report

# Browse the SQLite database `build` writes, on http://127.0.0.1:$(PORT)/ (PORT=... to change).
# The plugins follow a rebuild (each request reads one build), format amounts, refuse writes.
serve: $(STAMP)
	$(BIN)/datasette serve data/processed/osaka_unei.sqlite --host 127.0.0.1 --port $(PORT) \
		--metadata data/processed/datasette.json --plugins-dir src/osaka_unei/db/datasette_plugins

# JupyterLab on http://127.0.0.1:$(NOTEBOOK_PORT)/ over notebooks/, its kernel the project's .venv.
# The `notebook` extra is not in the lock: installed here, again after the venv is re-synced.
$(NOTEBOOK_STAMP): $(STAMP)
	$(call say,installing the notebook extra (JupyterLab) into $(VENV))
	@if "$(UV)" --version >/dev/null 2>&1; then \
		"$(UV)" pip install --quiet --python $(BIN)/python -e ".[notebook]"; \
	else \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[notebook]"; \
	fi
	@touch $@

notebook: $(NOTEBOOK_STAMP)
	$(BIN)/jupyter lab --ip 127.0.0.1 --port $(NOTEBOOK_PORT) --notebook-dir notebooks \
		$(if $(filter 0,$(shell id -u)),--allow-root)

# Run every notebook and keep its outputs in the file (after the data or a notebook changed).
notebook-outputs: $(STAMP)
	$(BIN)/python tests/test_notebooks.py

# Regenerate the lock file after changing dependencies in pyproject.toml (uses the pinned uv).
lock:
	$(ensure_uv)
	"$(UV)" pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes -o $(LOCK)

clean-venv:
	rm -rf $(VENV)
