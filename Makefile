# fraudops — developer and user entry points. Every target uses the project's own .venv.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FRAUDOPS := $(BIN)/fraudops

.DEFAULT_GOAL := help
.PHONY: help install demo test test-fast lint format serve generate-data train-local \
        benchmarks clean stack-up stack-down stack-check docker-up docker-down health-check

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (fraudops needs Python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --python $(BIN)/python --constraint constraints.txt -e ".[dev,airflow,compiled,spark]"
	@touch $(STAMP)

install: $(STAMP) ## Create .venv with fraudops, its dev tools and Airflow (pinned by constraints.txt)

demo: install ## Run the main job end to end on embedded defaults (writes under $$FRAUDOPS_HOME, default ./.fraudops)
	$(FRAUDOPS) demo

test: install tools ## Run every test tier (unit, data, model, e2e, integration, airflow, deployment, infra)
	$(BIN)/pytest tests

test-fast: install ## Only the tiers that need no services
	$(BIN)/pytest tests/unit tests/data tests/model

lint: install ## ruff check, ruff format --check, mypy
	$(BIN)/ruff check src tests benchmarks dags
	$(BIN)/ruff format --check src tests benchmarks dags
	$(BIN)/mypy

format: install ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix src tests benchmarks dags
	$(BIN)/ruff format src tests benchmarks dags

serve: install ## Serve the champion model on http://127.0.0.1:8000
	$(FRAUDOPS) serve

generate-data: install ## Simulate 90 days of transactions into $$FRAUDOPS_HOME/data/raw
	$(FRAUDOPS) data generate --customers 5000 --days 90 --out $${FRAUDOPS_HOME:-.fraudops}/data/raw

train-local: install ## Train and register models on the embedded registry
	$(FRAUDOPS) train --data $${FRAUDOPS_HOME:-.fraudops}/data/raw

benchmarks: install ## Run every benchmark (see docs/benchmarks.md)
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script; done

clean: ## Remove the virtual environment and the embedded home
	rm -rf $(VENV) .fraudops .pytest_cache .mypy_cache .ruff_cache

-include deployment/stack.mk
-include deployment/tools.mk
