# Social Bridge — `make run` serves the tool with its sandbox LMS; `make test` runs every test.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BRIDGE := $(VENV)/bin/bridge
PORT ?= 5000
HOST ?= 127.0.0.1
PUBLIC_URL ?= http://$(HOST):$(PORT)
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run test lint bench clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(PY):
	python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,postgres]"
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install the tool with its dev tools

var/secret_key:
	@mkdir -p var
	@$(PY) -c 'import secrets; print(secrets.token_urlsafe(48))' > var/secret_key
	@chmod 600 var/secret_key
	@echo "Created a development secret key in var/secret_key"

run: $(STAMP) var/secret_key ## Install, migrate, create keys and serve the tool with the sandbox LMS
	@export BRIDGE_SECRET_KEY_FILE=var/secret_key BRIDGE_SANDBOX=1 BRIDGE_PORT=$(PORT) BRIDGE_HOST=$(HOST) \
	        BRIDGE_PUBLIC_URL=$${BRIDGE_PUBLIC_URL:-$(PUBLIC_URL)}; \
	  $(BRIDGE) setup && exec $(BRIDGE) serve

test: $(STAMP) lint ## Install and run the whole test suite (lint included)
	$(PY) -m pytest -q

lint: $(STAMP) ## Ruff (lint + format check) and the import-linter contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

bench: $(STAMP) ## Run the benchmarks in bench/ (each prints a ratio against a floor)
	@for script in bench/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean: ## Remove the virtualenv and local data (var/)
	rm -rf $(VENV) var .pytest_cache .ruff_cache
