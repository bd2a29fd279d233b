# The README's commands. Each target creates/uses .venv, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SERVE_STAMP := $(VENV)/.installed-serve
TEST_STAMP := $(VENV)/.installed-test
PHOTOS ?= ./photos
DATA ?= ./data

.PHONY: run test test-fast test-postgres lint bench clean

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
# Both halves always run; a failure in the first does not hide the second. The slowest 15 tests are listed.
PG_TESTS := tests/unit tests/api tests/integration/test_two_processes.py
test: $(TEST_STAMP)
	@sqlite=0; postgres=0; \
	$(BIN)/pytest -q --durations=15 || sqlite=$$?; \
	$(BIN)/pytest -q --db=postgres $(PG_TESTS) || postgres=$$?; \
	echo "make test: SQLite half exit $$sqlite, PostgreSQL half exit $$postgres"; \
	[ $$sqlite -eq 0 ] && [ $$postgres -eq 0 ]

# The quick layers only: no real servers.
test-fast: $(TEST_STAMP)
	$(BIN)/pytest -q -m "not integration and not browser and not slow"

test-postgres: $(TEST_STAMP)
	$(BIN)/pytest -q --db=postgres $(PG_TESTS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check .

# The benchmarks of issue 9 (bench/README.md); `make bench BENCH_ARGS="--quick --only thumbs"` passes options.
bench: $(TEST_STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
