# The README's commands. Each target creates/uses .venv, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PHOTOS ?= ./photos
DATA ?= ./data

.PHONY: run test test-fast test-postgres lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	mkdir -p $(PHOTOS) $(DATA)
	PHOTONIX_DEV=1 PHOTONIX_PHOTOS_DIR=$(PHOTOS) PHOTONIX_DATA_DIR=$(DATA) $(BIN)/photonix sample-album
	PHOTONIX_DEV=1 PHOTONIX_PHOTOS_DIR=$(PHOTOS) PHOTONIX_DATA_DIR=$(DATA) $(BIN)/photonix serve

# Everything: unit, API, integration (real gunicorn/redis/postgresql), then the core tests on PostgreSQL.
test: $(STAMP)
	$(BIN)/pytest -q
	$(BIN)/pytest -q --db=postgres tests/unit tests/api tests/integration/test_two_processes.py

# The quick layers only: no real servers.
test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not integration and not browser and not slow"

test-postgres: $(STAMP)
	$(BIN)/pytest -q --db=postgres tests/unit tests/api tests/integration/test_two_processes.py

lint: $(STAMP)
	$(BIN)/ruff check .

# The benchmarks of issue 9 (bench/README.md); `make bench BENCH_ARGS="--quick --only thumbs"` passes options.
bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
