# kansa — the front door. Every target sets up what it needs.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DB     ?= sqlite:///./kansa.db
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install run test lint bench bench-stream demo clean cluster chaos

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --config-settings editable_mode=compat -e '.[dev]'
	@touch $(STAMP)

# Serve kansa on http://$(HOST):$(PORT) with demo data of the four products
# (created once, with the demo accounts' random password in kansa-demo-password.txt beside
# kansa.db; delete kansa.db to start again).
run: install
	$(BIN)/kansa init --db $(DB)
	$(BIN)/kansa demo --db $(DB) --if-empty
	$(BIN)/kansa serve --db $(DB) --host $(HOST) --port $(PORT)

# The suite on TEST_WORKERS processes (pytest-xdist; each test file stays in one process, so
# a file's servers and databases are made once). TEST_WORKERS=0 runs it in this process.
TEST_WORKERS ?= 2
test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check kansa tests bench
	$(BIN)/ruff format --check kansa tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

# A cluster on loopback ports (deploy/cluster.sh, docs/scale.md): a PostgreSQL primary and a
# synchronous standby in a temp dir, 3 kansa nodes, nginx on http://127.0.0.1:18000.
# Ctrl-C stops and removes it all. Never touches a server on 5432.
cluster: install
	KANSA=$(abspath $(BIN))/kansa deploy/cluster.sh run

# The long crash runs, which .ci/run runs after the suite: 50,000 events through nginx while
# nodes and the primary are killed and the standby promoted (prints the time without a
# primary); a streaming server killed mid-delivery; the client and server killed under 20,000.
chaos: install
	KANSA_TEST_CLUSTER_EVENTS=50000 KANSA_TEST_CRASH_EVENTS=20000 $(BIN)/python -m pytest tests/cluster tests/streaming/test_crash.py tests/client/test_crash.py --chaos -s -o timeout=1800 $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

# Streaming-out throughput (webhook, NATS JetStream at 127.0.0.1:4222) beside the receivers' own.
bench-stream: install
	$(BIN)/python -m bench.stream $(BENCH_ARGS)

clean:
	rm -rf $(VENV) kansa.db kansa.db-wal kansa.db-shm kansa-demo-password.txt .pytest_cache .mypy_cache .ruff_cache
