# The README's commands. Each target creates/uses .venv, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SERVE_STAMP := $(VENV)/.installed-serve
TEST_STAMP := $(VENV)/.installed-test
PHOTOS ?= ./photos
DATA ?= ./data

.PHONY: run test test-sqlite test-fast test-postgres lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# `make run` installs only what serving needs; the test tools come with `make test`.
$(SERVE_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $(SERVE_STAMP)

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(SERVE_STAMP) $(TEST_STAMP)

run: $(SERVE_STAMP)
	mkdir -p $(PHOTOS) $(DATA)
	PHOTONIX_DEV=1 PHOTONIX_PHOTOS_DIR=$(PHOTOS) PHOTONIX_DATA_DIR=$(DATA) $(BIN)/photonix sample-album
	PHOTONIX_DEV=1 PHOTONIX_PHOTOS_DIR=$(PHOTOS) PHOTONIX_DATA_DIR=$(DATA) $(BIN)/photonix serve

# Everything: unit, API, integration (real gunicorn/redis/postgresql), then the core tests on PostgreSQL.
# Both halves at once on xdist workers (tests/conftest.py: slow tests first; a module with a module-scoped
# fixture stays on one worker). Each half's output is printed whole when it ends, with its 15 slowest tests;
# --keep-going: a failure in one half hides nothing, and make fails at the end. ruff runs first (a second).
PG_TESTS := tests/unit tests/api tests/integration/test_two_processes.py
test: $(TEST_STAMP)
	@$(MAKE) --no-print-directory --keep-going --jobs=2 --output-sync=target lint test-sqlite test-postgres

test-sqlite: $(TEST_STAMP)
	$(BIN)/pytest -q -n 4 --dist loadgroup --durations=15

# The quick layers only: no real servers.
test-fast: $(TEST_STAMP)
	$(BIN)/pytest -q -n 2 -m "not integration and not browser and not slow"

test-postgres: $(TEST_STAMP)
	$(BIN)/pytest -q -n 2 --dist loadgroup --durations=15 --db=postgres $(PG_TESTS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check .

# The benchmarks of issue 9 (bench/README.md); `make bench BENCH_ARGS="--quick --only thumbs"` passes options.
bench: $(TEST_STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
