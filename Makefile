# The two commands a newcomer runs: `make crawl` and `make test`. `make help` lists the rest.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
SITE_PORT ?= 8765
SERVE_PORT ?= 8001
# `make lock` keeps the locked versions pyproject.toml still allows; UPGRADE=1 takes the newest.
UPGRADE ?=
UV := 'uv>=0.9,<0.14'

.DEFAULT_GOAL := help
.PHONY: help crawl serve test test-fast lint bench lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

# The exact versions of requirements.lock (hash-checked), then ecnews itself; a dependency
# pyproject.toml gained since the lock was made is installed too (run `make lock` for it).
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade 'pip>=24.2,<27'
	$(BIN)/pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

crawl: $(STAMP) ## crawl NEWS_SITE_URL (none set: the bundled snapshot) into data/ecnews.db
	$(BIN)/python -m crawler.demo --port $(SITE_PORT)

serve: $(STAMP) ## the web view of the database on http://127.0.0.1:8001/ (SERVE_PORT)
	$(BIN)/ecnews serve --port $(SERVE_PORT)

test: $(STAMP) ## the tests, with a throwaway PostgreSQL and Redis when installed
	scripts/with-services.sh $(BIN)/pytest -q

test-fast: $(STAMP) ## unit, rule and in-process storage tests (SQLite): no child process, no services (under 30 s)
	$(BIN)/pytest -q -m "not slow and not process and not postgres and not redis"

lint: $(STAMP) ## ruff, ruff format --check, mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP) ## the benchmarks of the README (several minutes)
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/scaleout.py
	$(BIN)/python benchmarks/bench_search.py
	$(BIN)/python benchmarks/bench_archive.py

lock: ## refresh requirements.lock from pyproject.toml (UPGRADE=1: newest allowed versions)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(UV)
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes --quiet $(if $(UPGRADE),--upgrade) -o $(LOCK)

clean: ## remove the virtualenv, data/ and caches
	rm -rf $(VENV) data .pytest_cache .ruff_cache .mypy_cache
