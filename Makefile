# Two commands matter: `make dev` serves the whole API locally, `make test` runs every test.
SHELL := /bin/bash
# Prefer Python 3.12 (the Lambda runtime); any 3.11+ works.
PYTHON ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 python3; do \
	$$p -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null && echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test bench lint typecheck cfn-lint install lock clean sam-build openapi

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

dev: $(STAMP)
	$(BIN)/convoship serve --port $${PORT:-3000}

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m convoship_bench

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(STAMP)
	$(BIN)/mypy

cfn-lint: $(STAMP)
	$(BIN)/cfn-lint template.yaml

sam-build:
	sam build

openapi: $(STAMP)
	$(BIN)/convoship openapi > openapi.json

lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | sed '1i # Exact versions the tests and tools run with (pip install -c constraints.txt). Refresh: make lock' > constraints.txt

clean:
	rm -rf $(VENV) .aws-sam .bench .pytest_cache .mypy_cache .ruff_cache
