# Two commands do all set-up on a fresh machine:
#   make run    the whole system on http://127.0.0.1:8080 (Ctrl-C stops it; data stays in .data/)
#   make test   installs and starts what the tests need, then runs every test
.DEFAULT_GOAL := help
.PHONY: help python-deps install web openapi run bench test test-python test-web lint clean \
	compose-up compose-down

export PATH := $(CURDIR)/.venv/bin:$(PATH)
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.venv-tools/bin/uv)

help:
	@echo "make run    start the whole system (gateway on :8080, RabbitMQ UI on :15672, Prometheus on :9090)"
	@echo "make test   install what tests need and run them all"
	@echo "make bench  measure issue 7's figures on a private stack (report in .artifacts/bench/)"
	@echo "make lint   ruff and mypy over the Python code; ESLint, vue-tsc and Prettier over web/"
	@echo "make compose-up / compose-down   the whole system in containers (docker-compose.yml)"

$(UV):
	python3 -m venv .venv-tools && .venv-tools/bin/pip install -q "uv==0.13.9"

# Locked Python dependencies (uv.lock) into .venv.
python-deps: $(UV)
	$(UV) sync --frozen

# ... and the Debian packages we run.
install: python-deps
	scripts/system-deps.sh

web/node_modules/.package-lock.json: web/package-lock.json
	cd web && npm ci --no-audit --no-fund

# The web client, built into web/dist for the gateway to serve.
web: web/node_modules/.package-lock.json
	cd web && npm run build

# Regenerate the OpenAPI documents and the web client's types from them.
openapi: install
	python -m scripts.export_openapi
	cd web && npm run gen:api

run: install web
	python -m devstack

# Performance figures, each beside an anchor (bench/__main__.py); BENCH_ARGS="--help" lists flags.
bench: install web
	python -m bench $(BENCH_ARGS)

# Static checks only: nothing from Debian is needed or installed.
lint: python-deps web/node_modules/.package-lock.json
	ruff check .
	ruff format --check .
	mypy
	cd web && npm run lint
	cd web && npm run typecheck
	cd web && npm run format:check

test-web: web
	cd web && npm test

test-python: install web
	scripts/system-deps.sh --browser
	scripts/docker-engine.sh
	pytest --cov --cov-report=term-missing:skip-covered

test: lint test-web test-python

# The stack in containers: a Docker engine and Compose v2 where none runs, local stand-ins for
# the official images where no registry answers (scripts/compose-up.sh); afterwards plain
# `docker compose ...` commands in this folder act on it.
compose-up: python-deps
	scripts/compose-up.sh

compose-down:
	docker compose down

clean:
	rm -rf .venv .venv-tools web/node_modules web/dist .pytest_cache .artifacts
