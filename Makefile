# Two commands matter: `make dev` serves the whole API locally, `make test` runs every test.
SHELL := /bin/bash
# Prefer Python 3.12 (the Lambda runtime); any 3.11+ works.
PYTHON ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 python3; do \
	$$p -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null && echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# aws-sam-cli and checkov pin versions that clash with constraints.txt (and with each other):
# each gets its own venv under .tools/, exact pins in tools/iac/<tool>-requirements.txt.
TOOLS := .tools
SAM := $(TOOLS)/sam/bin/sam
CHECKOV := $(TOOLS)/checkov/bin/checkov
IAC_TOOLS := $(TOOLS)/sam/.installed $(TOOLS)/checkov/.installed
export SAM_CLI_TELEMETRY := 0

.PHONY: dev test bench lint typecheck cfn-lint iac-scan install tools lock lock-tools clean \
	sam-build openapi

$(STAMP): pyproject.toml constraints.txt
	@echo "make: creating $(VENV) with $(PYTHON) and installing the pinned packages of constraints.txt (first run: 1-2 minutes, quiet)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)
	@echo "make: $(VENV) is ready"

install: $(STAMP)

$(TOOLS)/%/.installed: tools/iac/%-requirements.txt
	@echo "make: installing $* into $(TOOLS)/$* (its own venv; once, about a minute)"
	rm -rf $(TOOLS)/$*
	$(PYTHON) -m venv $(TOOLS)/$*
	$(TOOLS)/$*/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/$*/bin/python -m pip install --quiet --requirement $<
	touch $@

tools: $(IAC_TOOLS)

# PORT=3001 make dev serves on another port.
dev: $(STAMP)
	$(BIN)/convoship serve --port $${PORT:-3000}

test: $(STAMP) $(IAC_TOOLS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml
	$(SAM) validate --lint
	$(MAKE) --no-print-directory iac-scan
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

# The IaC security scan: every finding fixed, or skipped in the template with its reason.
# --skip-download: no call to the vendor's platform (the rules ship with the package).
iac-scan: $(TOOLS)/checkov/.installed
	$(CHECKOV) --file template.yaml --framework cloudformation --skip-download --compact --quiet

# No Docker: every function and the layer build with their Makefiles, which need python3.12
# (on PATH or under ~/.pyenv/versions) and llvm-strip (tools/make/python312.mk, layers/shared).
sam-build: $(TOOLS)/sam/.installed
	$(SAM) build

openapi: $(STAMP)
	$(BIN)/convoship openapi > openapi.json

lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | sed '1i # Exact versions the tests and tools run with (pip install -c constraints.txt). Refresh: make lock' > constraints.txt

lock-tools:
	for spec in sam:aws-sam-cli checkov:checkov; do \
		tool=$${spec%%:*}; rm -rf $(TOOLS)/lock && $(PYTHON) -m venv $(TOOLS)/lock && \
		$(TOOLS)/lock/bin/python -m pip install --quiet $${spec#*:} && \
		{ sed -n '1,2p' tools/iac/$$tool-requirements.txt; $(TOOLS)/lock/bin/python -m pip freeze; } \
			> tools/iac/$$tool-requirements.txt.new && \
		mv tools/iac/$$tool-requirements.txt.new tools/iac/$$tool-requirements.txt || exit 1; \
	done; rm -rf $(TOOLS)/lock

clean:
	rm -rf $(VENV) $(TOOLS) .aws-sam .bench .pytest_cache .mypy_cache .ruff_cache
