# Entry points: `make demo`, `make test` (the full suite, what CI runs) and `make test-quick`.
# Each creates .venv when missing and installs torch==2.13.0 first, so pip never resolves an
# unpinned (multi-GB CUDA) torch.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0

.PHONY: demo test test-quick install install-dev bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/aekit demo

# Two workers of one torch thread each: on 2 cores, 8.6 minutes instead of 15 (aekit's
# results do not depend on the thread count; tests that need 2 threads set them).
test: install-dev
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2

# A few minutes: every test file, each test function once, no slow or heaviest tests
# (tests/conftest.py, --quick). Before a commit; `make test` before a merge.
test-quick: install-dev
	$(BIN)/python -m pytest --quick

bench: install
	$(BIN)/python bench/fit_speed.py

clean:
	rm -rf $(VENV) runs build src/*.egg-info .pytest_cache
