# The two commands a fresh machine needs: `make dev` and `make test`.
# Both install what is missing first and are safe to run again.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

UV ?= uv
PG_MAJOR ?= $(shell (pg_config --version 2>/dev/null || psql --version 2>/dev/null || echo 15) | grep -oE '[0-9]+' | head -1)

# The tail of a recipe that has listed absent Debian packages in $$missing: install them as
# root, or say the command to run and fail.
APT_INSTALL_MISSING = if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "missing Debian packages:$$missing"; \
	    echo "run: sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	  echo "installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

.PHONY: help install install-system install-python install-cli install-node install-browser test test-sql test-py test-web e2e audit lint migration dev bench bench-peers reliability clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

install: install-system install-python install-cli install-node install-browser ## install everything the project needs (idempotent)

install-system: ## uv, pgTAP, pg_prove and plpgsql_check (apt-get; needs root)
	@command -v $(UV) >/dev/null || { echo "installing uv from PyPI"; python3 -m pip install --quiet uv; }
	@missing=""; \
	command -v pg_prove >/dev/null || missing="$$missing libtap-parser-sourcehandler-pgtap-perl"; \
	ls /usr/share/postgresql/$(PG_MAJOR)/extension/pgtap.control >/dev/null 2>&1 || missing="$$missing postgresql-$(PG_MAJOR)-pgtap"; \
	ls /usr/share/postgresql/$(PG_MAJOR)/extension/plpgsql_check.control >/dev/null 2>&1 || missing="$$missing postgresql-$(PG_MAJOR)-plpgsql-check"; \
	$(APT_INSTALL_MISSING)

install-python: ## the Python environment from uv.lock
	@$(UV) sync --locked --quiet

# The Supabase CLI, pinned in the root package.json (`npx supabase …`); db push, migration list
# and db lint with --db-url need no Docker.
install-cli: ## the pinned Supabase CLI from package-lock.json (node_modules/.bin/supabase)
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" != 0 ]; then echo "npm is missing: run sudo apt-get install -y nodejs npm"; exit 1; fi; \
	  echo "installing npm from Debian"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	@if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
	  echo "installing the Supabase CLI (npm ci)"; npm ci --no-audit --no-fund --loglevel=error; \
	fi

# frontend/package.json pins Node 22 itself (the npm package `node`), so any npm brings it.
install-node: ## the frontend's packages (and its pinned Node 22) from package-lock.json
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" != 0 ]; then echo "npm is missing: run sudo apt-get install -y nodejs npm"; exit 1; fi; \
	  echo "installing npm from Debian"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	@if [ ! -f frontend/node_modules/.package-lock.json ] || [ frontend/package-lock.json -nt frontend/node_modules/.package-lock.json ]; then \
	  echo "installing the frontend's packages (npm ci)"; cd frontend && npm ci --no-audit --no-fund --loglevel=error; \
	fi

# Playwright's own browser download cannot run here: the browser tests drive Debian's Chromium.
install-browser: ## Chromium and fonts for the browser tests (apt-get; needs root)
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	[ -d /usr/share/fonts/truetype/liberation ] || missing="$$missing fonts-liberation"; \
	$(APT_INSTALL_MISSING)

test: install ## every check: linters, Supabase CLI, pgTAP, pytest, browser tests (TEST_DATABASE_URL, default local Postgres)
	@$(UV) run python -m tools.check

test-sql: install ## the SQL layers alone: the Supabase CLI's push, list and config, then pgTAP
	@$(UV) run python -m tools.check --only cli --only pgtap

test-py: install ## pytest alone (real Postgres, the stand-ins over HTTP); PYTEST_ARGS="-k name" narrows it
	@$(UV) run python -m tools.check --only pytest $(if $(PYTEST_ARGS),-- $(PYTEST_ARGS))

test-web: install ## the frontend alone: generated types current, tsc, Vitest, next build
	@$(UV) run python -m tools.check --only frontend

e2e: install ## the browser tests in Chromium against the whole stack; screenshots in frontend/e2e/artifacts/
	@$(UV) run python -m tools.e2e

audit: install ## Lighthouse (mobile, desktop) on the catalogue, a lesson signed out and owned, Purchases; writes frontend/audit/latest.json, fails over budget
	@$(UV) run python -m tools.audit

dev: install ## the whole shop offline: Postgres, the stand-ins, sidecar, Next.js on :3000 (Ctrl-C stops)
	@$(UV) run python -m devstack up

bench: install-python install-cli ## the goals table: each row a ratio to a baseline measured in the same run (< 10 min)
	@$(UV) run python -m bench

# Not part of `make test` or `make bench`: npm ci of bench/peers/package-lock.json into the
# git-ignored bench/results/peers-node (only when the lock changed), then both systems side by side.
bench-peers: install-python install-cli ## ours vs stripe-sync-engine (pinned, from npm) on the same signed webhooks; writes bench/results/peers.json
	@$(UV) run python -m bench.peers

reliability: install-python install-cli ## webhook storm, database outage, crash, slow database at full size (a few minutes)
	@RELIABILITY_SCALE=full $(UV) run pytest tests/reliability -m reliability -s -q

lint: install-python install-cli install-node ## pre-commit (ruff, ruff format, sqlfluff, eslint), mypy, supabase db lint
	@$(UV) run python -m tools.check --only lint

# Edit supabase/schemas, then this: the pinned CLI's diff engine (pg-delta, no Docker) compares
# a database built by `supabase db push` with one built from supabase/schemas (both throwaway,
# on TEST_DATABASE_URL), and the migration it writes is pushed onto the first and must leave
# no difference. Review it and say what and why in its header before pushing it.
migration: install-python install-cli ## write supabase/migrations/<timestamp>_$(NAME).sql from the difference between supabase/schemas and the migrations
	@[ -n "$(NAME)" ] || { echo "usage: make migration NAME=add_lesson_tags (what it does, lower_snake_case)"; exit 2; }
	@$(UV) run python -m tools.schemas migration "$(NAME)"

clean: ## remove local state (.devstack/, caches)
	rm -rf .devstack .pytest_cache .mypy_cache .ruff_cache
