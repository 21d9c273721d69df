# The one interface to Envol. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
# uv: the one on PATH, else one installed for Envol in its own virtual environment (pip --user is refused
# by current Debian and Ubuntu: their Python is externally managed)
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.cache/envol/uv/bin/uv)
PYTHON ?= python3.11
INFRA := deploy/local/infra.sh
SERVICES := deploy/local/services.sh
export KAFKA_BOOTSTRAP_SERVERS ?= 127.0.0.1:$(or $(KAFKA_PORT),9092)
export MONGODB_URL ?= mongodb://127.0.0.1:$(or $(FERRETDB_PORT),27017)/
# the local broker speaks SASL_SSL only: its CA and the principals' passwords are in its state directory
export ENVOL_STATE ?= $(CURDIR)/.local-infra
export KAFKA_SECURITY_PROTOCOL ?= SASL_SSL
export KAFKA_SSL_CAFILE ?= $(ENVOL_STATE)/secrets/ca.pem
export ENVOL_KAFKA_PASSWORDS ?= $(ENVOL_STATE)/secrets/kafka-passwords
export KAFKA_USERNAME ?= admin
# FerretDB authenticates every client too; `make topics` adds the services' users and the auditor
export ENVOL_MONGODB_PASSWORDS ?= $(ENVOL_STATE)/secrets/mongodb-passwords
export MONGODB_USERNAME ?= admin
# the console's operators (`<name> <password>` lines), drawn by infra-up: `operator` and its password
export ENVOL_CONSOLE_PASSWORDS ?= $(ENVOL_STATE)/secrets/console-passwords
OPERATOR := KAFKA_USERNAME=operator MONGODB_USERNAME=auditor
ERASER := KAFKA_USERNAME=eraser MONGODB_USERNAME=auditor
# every target runs on this machine: the local default secrets are accepted (see the README)
export ENVOL_MODE ?= local

.PHONY: help install infra-up infra-down infra-status topics up down status demo audit envol erase chaos chaos-sim chaos-fuzz \
	bench bench-long test test-unit test-pythons test-integration lint format typecheck docs

help: ## List the targets
	@grep -E '^[a-z%-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(UV):
	python3 -m venv $(HOME)/.cache/envol/uv || { echo "python3 -m venv failed: on Debian and Ubuntu, apt install python3-venv (or install uv: https://docs.astral.sh/uv/)"; exit 1; }
	$(HOME)/.cache/envol/uv/bin/pip install --quiet uv

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

install: $(VENV)/.installed ## Install Python dependencies from the lock file

infra-up: ## Start Kafka and FerretDB locally (fetches and builds them once, then cached)
	bash $(INFRA) up

infra-down: ## Stop Kafka and FerretDB
	bash $(INFRA) down

infra-status: ## Tell whether Kafka and FerretDB are running
	bash $(INFRA) status

topics: install ## Create every topic, the local principals and database users, and the grants (services/grants.py)
	$(PY) -m services.provision

up: install infra-up topics ## Run the system: servers, the four services, the console, demo data flowing
	bash $(SERVICES) start
	@echo "Kafka: $(KAFKA_BOOTSTRAP_SERVERS)   MongoDB: $$(sed -E 's#(//[^:/@]*):[^@/]*@#\1:***@#' <<<'$(MONGODB_URL)')   logs: .local-infra/services/"
	$(MAKE) --no-print-directory demo
	@echo "Operators' console: http://127.0.0.1:$${ENVOL_CONSOLE_PORT:-8090}/ (sign in as operator; its password is in $(ENVOL_CONSOLE_PASSWORDS))"

demo: install ## Load the demo volunteers (the seed's three missions) and show where they stand
	$(PY) -m services.simulator demo
	$(OPERATOR) $(VENV)/bin/envol status

audit: install ## Check the invariants of the running system on its topics and stores
	$(OPERATOR) $(VENV)/bin/envol audit

envol: install ## An operator's command on the local stack, e.g. make envol ARGS="timeline VOLUNTEER_ID"
	$(OPERATOR) $(VENV)/bin/envol $(ARGS)

erase: install ## Erase a volunteer everywhere, as the eraser principal (asks to confirm): make erase VOLUNTEER=ID
	@[ -n "$(VOLUNTEER)" ] || { echo "usage: make erase VOLUNTEER=ID" >&2; exit 2; }
	$(ERASER) $(VENV)/bin/envol erase $(VOLUNTEER)

chaos: install ## Run every fault scenario at full size (N=10000 lifecycles; see the README)
	for scenario in kill restart-kafka restart-ferretdb poison race; do \
		$(PY) -m services.simulator chaos $$scenario -n $${N:-10000} || exit 1; done
	$(MAKE) --no-print-directory chaos-leader-kill N=$${N:-10000}

chaos-leader-kill: install ## Kill the partition leader mid-run on a local three-broker cluster (RF 3, min ISR 2)
	endpoints=$$(bash deploy/local/kafka-cluster.sh up) && export $$endpoints ENVOL_TOPIC_REPLICATION=3 && \
		$(PY) -m services.simulator chaos leader-kill -n $${N:-500}

chaos-fuzz: install ## Hypothesis-drawn hostile inputs (N=100000, seeded) on the intake topics during lifecycles
	$(PY) -m tests.fuzz -n $${N:-100000} --seed $${SEED:-7}

chaos-sim: install ## Explore N schedules of the deterministic simulation (N=100000, JOBS=1; SEED=S replays one; ERASING=1 erases one volunteer of each; SELECTING=1 adds applicants a host and the agency choose)
	$(PY) -m tests.simulation -n $${N:-100000} --jobs $${JOBS:-1} $${SEED:+--seed $$SEED} $${ERASING:+--erasing} $${SELECTING:+--selecting}

chaos-%: install ## Run one fault scenario: make chaos-kill N=500 (kill, restart-kafka, restart-ferretdb, poison, race)
	$(PY) -m services.simulator chaos $* -n $${N:-500}

bench: install infra-up topics ## Benchmark: the system vs a raw relay baseline, A B pairs (N lifecycles), and on a plaintext broker
	plain="ENVOL_STATE=$(ENVOL_STATE)/bench-plaintext KAFKA_PLAINTEXT=1 KAFKA_PORT=9192 KAFKA_CONTROLLER_PORT=9193"; \
	env $$plain bash deploy/local/kafka.sh start && trap "env $$plain bash deploy/local/kafka.sh stop" EXIT && \
	$(PY) -m services.simulator.bench --lifecycles $${N:-200} --pairs $${PAIRS:-3} --plaintext 127.0.0.1:9192

bench-long: install infra-up topics ## Long run: N lifecycles (default 100,000) in closed-loop rounds, lifecycles/s over time, then the audit
	$(PY) -m services.simulator.soak --lifecycles $${N:-100000} --round $${ROUND:-1000}

docs: install ## Write the generated documents into docs/ (schemas, AsyncAPI, grants, topics) and deploy/k8s
	$(VENV)/bin/envol docs docs
	$(VENV)/bin/envol kubernetes deploy/k8s

down: ## Stop the services and the servers
	bash $(SERVICES) stop
	bash $(INFRA) down

status: ## Tell which servers and services are running
	bash $(INFRA) status || true
	bash $(SERVICES) status || true

test: install ## Run every test: unit (in memory), integration and end-to-end (real servers)
	$(PY) -m pytest

test-unit: install ## Run the in-memory tests only
	$(PY) -m pytest tests/unit

test-pythons: | $(UV) ## Run the in-memory tests on Python 3.12 and 3.13 too (.venv-<version>, the same lock file; PYTHONS="3.13" for one)
	@for v in $${PYTHONS:-3.12 3.13}; do \
	  py=$$(bash deploy/local/python.sh $$v) && \
	  UV_PROJECT_ENVIRONMENT=.venv-$$v $(UV) sync --frozen --quiet --python "$$py" && \
	  echo "the in-memory tests on $$(.venv-$$v/bin/python -V)" && \
	  .venv-$$v/bin/python -m pytest tests/unit -q -p no:cacheprovider || exit 1; \
	done

test-integration: install ## Run the tests on real servers only
	$(PY) -m pytest tests/integration tests/e2e

lint: install ## Check formatting and lint rules
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

format: install ## Format the code and apply safe fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: install ## Type-check shared/ and the domain modules (mypy strict)
	$(VENV)/bin/mypy

