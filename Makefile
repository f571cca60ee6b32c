# Social Bridge — `make run` serves the tool with its sandbox LMS; `make test` runs every test.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BRIDGE := $(VENV)/bin/bridge
PORT ?= 5000
HOST ?= 127.0.0.1
PUBLIC_URL ?= http://$(HOST):$(PORT)
STAMP := $(VENV)/.installed
# The browser tests drive Debian's chromium at this path (never a browser `playwright install` downloads).
CHROMIUM ?= /usr/bin/chromium

.DEFAULT_GOAL := help
.PHONY: help install browser-deps run test lint bench clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(PY):
	python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,postgres]"
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install the tool with its dev tools

browser-deps: ## Install Debian's chromium for the browser tests when it is missing
	@[ -x $(CHROMIUM) ] && exit 0; \
	if ! command -v apt-get >/dev/null; then SUDO=none; \
	elif [ "$$(id -u)" = 0 ]; then SUDO=; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	else SUDO=none; fi; \
	if [ "$$SUDO" = none ]; then \
	  echo "!! $(CHROMIUM) is missing and this user cannot install it (needs root or sudo, and apt-get)." >&2; \
	  echo "!! The browser tests will be skipped, or fail with BRIDGE_REQUIRE_SERVICES=1." >&2; \
	  echo "!! Install it with: apt-get install chromium" >&2; \
	  exit 0; \
	fi; \
	echo "Installing Debian's chromium for the browser tests"; \
	$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

var/secret_key:
	@mkdir -p var
	@$(PY) -c 'import secrets; print(secrets.token_urlsafe(48))' > var/secret_key
	@chmod 600 var/secret_key
	@echo "Created a development secret key in var/secret_key"

run: $(STAMP) var/secret_key ## Install, migrate, create keys and serve the tool with the sandbox LMS
	@export BRIDGE_SECRET_KEY_FILE=var/secret_key BRIDGE_SANDBOX=1 BRIDGE_PORT=$(PORT) BRIDGE_HOST=$(HOST) \
	        BRIDGE_PUBLIC_URL=$${BRIDGE_PUBLIC_URL:-$(PUBLIC_URL)}; \
	  $(BRIDGE) setup && exec $(BRIDGE) serve

test: $(STAMP) browser-deps lint ## Install and run the whole test suite (lint included)
	$(PY) -m pytest -q

lint: $(STAMP) ## Ruff (lint + format check) and the import-linter contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

bench: $(STAMP) ## Run the benchmarks in bench/ (each prints a ratio against a floor)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || \
	  echo "!! bench/discussion.py needs wrk (apt-get install wrk)"
	@for script in bench/launch.py bench/discussion.py bench/delivery.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean: ## Remove the virtualenv and local data (var/)
	rm -rf $(VENV) var .pytest_cache .ruff_cache
