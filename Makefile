# One command to set up and run, one to set up and test. Both are idempotent.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run test lint bench bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch and torchvision first, pinned, so pip can never pick an unpinned multi-GB build.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)
	$(BIN)/raim weights install

run: setup
	$(BIN)/raim serve --demo

test: setup
	bash scripts/install-browser.sh
	$(BIN)/ruff check app metrics scoring tests bench migrations
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check app metrics scoring tests bench

bench-quick: setup
	$(BIN)/python bench/score_bench.py --quick

bench: setup
	$(BIN)/python bench/score_bench.py

clean:
	rm -rf $(VENV) .pytest_cache
