# credsim: `make demo` and `make test` work on a fresh machine (they install what they need).
#
# The environment is .venv, with the exact versions of uv.lock (credsim itself editable, with the
# extras test, ray, cuda and docs). uv installs it; uv is bootstrapped into .venv with pip, at the
# version uv.lock names. Install output goes to .venv/install.log, printed only when it fails.
# --compile-bytecode: where PYTHONDONTWRITEBYTECODE is set, imports would otherwise compile every
# module from source in every process (scipy, ray, pandas: seconds per test subprocess).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOG := $(VENV)/install.log
EXTRAS := --extra test --extra ray --extra cuda --extra docs
UV_VERSION := $(shell sed -n '/^name = "uv"$$/{n;s/^version = "\(.*\)"$$/\1/p;}' uv.lock)
# only package registries are reachable: never let uv download a Python build
export UV_PYTHON_DOWNLOADS := never

.PHONY: install browser demo test docs dist schema lock bench clean

$(STAMP): pyproject.toml uv.lock
	@mkdir -p $(VENV) && : >$(LOG)
	@echo "installing credsim and its dependencies into $(VENV) (log: $(LOG))"
	@( set -ex; \
	   [ -x $(BIN)/uv ] || { $(PY) -m venv $(VENV) && $(BIN)/python -m pip install "uv==$(UV_VERSION)"; }; \
	   $(BIN)/uv sync --frozen --compile-bytecode $(EXTRAS) ) >>$(LOG) 2>&1 \
	  || { cat $(LOG); echo "error: installing into $(VENV) failed; the log above is in $(LOG)" >&2; exit 1; }
	@touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the report's and dashboard's browser tests (Playwright drives it; no
# browser download), at the path the tests use; installed with apt (sudo unless root) when missing.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@test -x $(CHROMIUM) || ($(SUDO) apt-get update && $(SUDO) apt-get install -y chromium)
	@test -x $(CHROMIUM) || (echo "error: $(CHROMIUM) is still missing after apt-get install chromium" >&2; exit 1)

demo: install
	@$(BIN)/credsim compare essay baseline --population 5e6 --days 365 --seed 1 --report report.html --figures figures

test: install browser
	CREDSIM_CHROMIUM=$(CHROMIUM) $(BIN)/pytest -q

# The documentation site: docs/_build/html/index.html (warnings are errors, as in tests/test_docs.py).
docs: install
	@$(BIN)/sphinx-build -q -W --keep-going -b html docs docs/_build/html
	@echo "docs: $(CURDIR)/docs/_build/html/index.html"

# sdist and wheel in dist/
dist: install
	@rm -rf dist && $(BIN)/uv build --quiet --out-dir dist
	@ls dist/*

# Regenerate credsim/scenario/scenario.schema.json from the pydantic model.
schema: install
	@$(BIN)/python -m credsim.scenario.schema

# Re-resolve uv.lock after a change to the dependencies in pyproject.toml.
lock: install
	@$(BIN)/uv lock

# e.g. make bench BENCH_ARGS="--quick" or BENCH_ARGS="--threads 1"
bench: install
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache credsim.duckdb report.html figures dist docs/_build docs/_generated
