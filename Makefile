# Developer entry points. `make help` lists them.
SHELL := /bin/bash

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

ROLE ?= agent
BENCH_ARGS ?=
SEED_ARGS ?=
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help .venv run test console console-test FORCE bench bench-intake bench-consumers bench-relay seed seed-knowledge bench-search bench-relevance bench-knowledge-search bench-candidates bench-analytics bench-lifecycle token clean-data

help:
	@echo "make run         start RabbitMQ (if down), nx-27017 (unless OPS_MONGO_URL is set) and the four services"
	@echo "make test        run the test suite (pytest; extra args in PYTEST_ARGS)"
	@echo "make console     build the staff console (npm ci + vite build into console/dist; make run does it)"
	@echo "make console-test  the console's component tests (Vitest)"
	@echo "make bench       run bench/close_loop.py against a running 'make run' (args in BENCH_ARGS)"
	@echo "make bench-intake  intake at saturation and where its time goes, against a running 'make run' (bench/intake.py)"
	@echo "make bench-consumers  events/s of one and two worker replicas (bench/consumers.py; args in BENCH_ARGS)"
	@echo "make bench-relay  events/s the outbox relay publishes, against the broker alone (bench/relay.py)"
	@echo "make seed        load 100,000 realistic tickets into ticketing's store, no events (bench/seed.py; BENCH_ARGS)"
	@echo "make seed-knowledge  load the sample 客服口径/投诉指导手册/FAQ (示例数据) into a running knowledge, idempotent"
	@echo "make bench-search  list and search latency and req/s against a seeded 'make run' (bench/search.py; BENCH_ARGS)"
	@echo "make bench-relevance  knowledge search MRR@10 and recall@3 over the labelled questions (bench/search_relevance.py)"
	@echo "make bench-knowledge-search  knowledge search p50/p95 over 20,000 articles, in-process and HTTP (bench/knowledge_search.py)"
	@echo "make bench-candidates  knowledge's cost per close of one hot question at 10 / 1,000 / 100,000 closes (bench/candidates.py)"
	@echo "make bench-analytics  analytics: load N tickets through the consumer, count them, time summary/breakdown/timeseries (bench/analytics.py)"
	@echo "make bench-lifecycle  lifecycle: portfolio, timeline, gate, transitions, documents p50/p95 and CPU at N products (bench/lifecycle.py)"
	@echo "make token       print a dev JWT: ROLE=agent [CITY=济南] [PRODUCTS=a,b] [VENDOR=v] [SUB=s]"
	@echo "make clean-data  delete the local data under .data/"
	@echo "make .venv       create .venv and install the project (re-installs when pyproject.toml changes)"

# The virtualenv: created once, (re)installed whenever pyproject.toml changes.
# Install output goes to stderr so that `make -s token` prints only the token.
$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV) >&2

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -e '.[local,test]' >&2
	@touch $@

.venv: $(STAMP)

# One simple command, so that make runs it without a shell: run.py is make's own child, gets make's
# SIGTERM directly, and notices when make dies (see its docstring). `exec` or `cd ... &&` would put a shell
# in between for nothing.
run: $(STAMP) console
	$(PY) scripts/run.py

# The staff console (console/): npm ci from the lock file, then a Vite build into console/dist, which the gateway
# of `make run` serves at http://127.0.0.1:8000/. Rebuilt when its sources change.
CONSOLE_SRC := $(shell find console/src -type f 2>/dev/null) console/index.html console/vite.config.ts console/package.json
# Installed again only when the lock file's content changed (a copy is kept beside the install), not its time:
# a fresh checkout's lock file is always newer than an install that is still right.
console/node_modules/.installed: FORCE
	@command -v npm >/dev/null || { echo "npm is needed to build the console (Debian: apt-get install nodejs npm)" >&2; exit 1; }
	@cmp -s console/package-lock.json $@ || { (cd console && npm ci --no-audit --no-fund >&2) && cp console/package-lock.json $@; }

FORCE:

console/dist/index.html: console/node_modules/.installed $(CONSOLE_SRC)
	cd console && npx vite build --logLevel warn >&2

console: console/dist/index.html

console-test: console/node_modules/.installed
	cd console && npx vitest run

test: $(STAMP)
	$(PY) -m pytest -q tests $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) bench/close_loop.py $(BENCH_ARGS)

bench-intake: $(STAMP)
	$(PY) bench/intake.py $(BENCH_ARGS)

bench-consumers: $(STAMP)
	$(PY) bench/consumers.py $(BENCH_ARGS)

bench-relay: $(STAMP)
	$(PY) bench/relay.py $(BENCH_ARGS)

seed: $(STAMP)
	$(PY) bench/seed.py $(BENCH_ARGS)

# Sample articles through the public API of a local knowledge (scripts/seed_knowledge.py refuses anything else
# unless SEED_ARGS=--sample-data-on-purpose). Never part of run or deploy.
seed-knowledge: $(STAMP)
	$(PY) scripts/seed_knowledge.py $(SEED_ARGS)

bench-search: $(STAMP)
	$(PY) bench/search.py $(BENCH_ARGS)

bench-relevance: $(STAMP)
	$(PY) bench/search_relevance.py $(BENCH_ARGS)

bench-knowledge-search: $(STAMP)
	$(PY) bench/knowledge_search.py $(BENCH_ARGS)
bench-candidates: $(STAMP)
	$(PY) bench/candidates.py $(BENCH_ARGS)

bench-analytics: $(STAMP)
	$(PY) bench/analytics.py $(BENCH_ARGS)

bench-lifecycle: $(STAMP)
	$(PY) bench/lifecycle.py $(BENCH_ARGS)

token: $(STAMP)
	@$(PY) -m services.kit.token --role '$(ROLE)' \
		$(if $(CITY),--city '$(CITY)') \
		$(if $(PRODUCTS),--products '$(PRODUCTS)') \
		$(if $(VENDOR),--vendor '$(VENDOR)') \
		$(if $(SUB),--sub '$(SUB)')

clean-data:
	rm -rf .data
