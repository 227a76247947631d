# Two commands: `make run` (quickstart) and `make test` (the suite). Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench notebooks clean system-deps

$(STAMP): pyproject.toml setup.py $(wildcard nnforge/data/*.c)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[all,dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/nnforge quickstart

test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q -n 2

notebooks: $(STAMP)  # every lesson as a Jupyter notebook, plus index.ipynb, in notebooks/
	$(BIN)/nnforge lesson --notebook notebooks

bench: $(STAMP) system-deps
	for b in bench/[!_]*.py; do $(BIN)/python $$b; done  # bench/_*.py are helpers (servers the benches start)

# Best effort, as root with apt-get only: chromium + chromedriver for the browser test (it skips
# without them), wrk + ab for bench/serve_load.py, PostgreSQL's server binaries (initdb, pg_ctl in
# /usr/lib/postgresql/VERSION/bin, not on PATH) for the shared-database tests. Never fails the build.
SYSTEM_TOOLS := chromium chromedriver wrk ab
SYSTEM_PACKAGES := chromium chromium-driver wrk apache2-utils postgresql
system-deps:
	-@missing=0; for t in $(SYSTEM_TOOLS); do command -v $$t >/dev/null 2>&1 || missing=1; done; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing=1; \
	if [ $$missing = 1 ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing $(SYSTEM_PACKAGES) with apt-get (best effort)"; \
	  (DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(SYSTEM_PACKAGES) >/dev/null 2>&1 || \
	   (apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(SYSTEM_PACKAGES) >/dev/null 2>&1)) || \
	  echo "note: could not install $(SYSTEM_PACKAGES); the browser and PostgreSQL tests will skip"; fi

clean:
	rm -rf $(VENV) runs lessons_out notebooks .pytest_cache
