# credsim: `make demo` and `make test` work on a fresh machine (they install what they need).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install browser demo test bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the report's and dashboard's browser tests (Playwright drives it; no
# browser download), at the path the tests use; installed with apt (sudo unless root) when missing.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@test -x $(CHROMIUM) || ($(SUDO) apt-get update && $(SUDO) apt-get install -y chromium)
	@test -x $(CHROMIUM) || (echo "error: $(CHROMIUM) is still missing after apt-get install chromium" >&2; exit 1)

demo: install
	$(BIN)/credsim compare essay baseline --population 5e6 --days 365 --seed 1 --report report.html --figures figures

test: install browser
	CREDSIM_CHROMIUM=$(CHROMIUM) $(BIN)/pytest -q

# e.g. make bench BENCH_ARGS="--quick" or BENCH_ARGS="--threads 1"
bench: install
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache credsim.duckdb report.html figures
