# The two commands a newcomer runs: `make crawl` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SITE_PORT ?= 8765
DATABASE_URL ?= sqlite:///data/ecnews.db
export DATABASE_URL

.PHONY: crawl test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Crawls NEWS_SITE_URL; with none set, serves the bundled snapshot on 127.0.0.1 and crawls it.
crawl: $(STAMP)
	$(BIN)/python -m crawler.demo --port $(SITE_PORT)

test: $(STAMP)
	scripts/with-services.sh $(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/scaleout.py
	$(BIN)/python benchmarks/bench_search.py

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache .mypy_cache
