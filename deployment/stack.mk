# The docker-compose stack (included by the top-level Makefile; also usable alone:
# `make -f deployment/stack.mk stack-up`). Needs Docker with the compose plugin.

STACK_ENV_FILE ?= deployment/.env
STACK_COMPOSE ?= docker compose -f deployment/docker-compose.yml --env-file $(STACK_ENV_FILE)
STACK_PYTHON ?= python3
STACK_BIN ?= .venv/bin
# `make stack-down STACK_DOWN_FLAGS=-v` also deletes the volumes (all data of the stack).
STACK_DOWN_FLAGS ?=
STACK_UP_TIMEOUT ?= 900
# e.g. STACK_CHECK_FLAGS="--wait 120" or "--strict" (a missing model then fails too).
STACK_CHECK_FLAGS ?=
STACK_DOCKERFILES := $(wildcard deployment/docker/*.Dockerfile)
# e.g. STACK_E2E_FLAGS="--days 35 --customers 1000" (deployment/stack_e2e.py --help)
STACK_E2E_FLAGS ?=
# Where stack-logs-dump writes every container's log (CI uploads it when a step fails).
STACK_LOG_DIR ?= stack-logs

.PHONY: stack-env stack-up stack-down stack-check stack-ps stack-logs stack-config \
        stack-lint docker-up docker-down health-check stack-build stack-e2e-run \
        stack-logs-dump stack-e2e

$(STACK_ENV_FILE):
	$(STACK_PYTHON) deployment/stack_env.py --output $@

stack-env: $(STACK_ENV_FILE) ## Write deployment/.env from .env.example with generated secrets (kept if present)

stack-up: $(STACK_ENV_FILE) ## Build and start the compose stack, wait until healthy, then check it
	$(STACK_COMPOSE) up --detach --build --wait --wait-timeout $(STACK_UP_TIMEOUT)
	$(STACK_PYTHON) deployment/stack_check.py --env-file $(STACK_ENV_FILE) --wait 120 $(STACK_CHECK_FLAGS)

stack-down: $(STACK_ENV_FILE) ## Stop the compose stack (STACK_DOWN_FLAGS=-v also deletes its volumes)
	$(STACK_COMPOSE) down --remove-orphans $(STACK_DOWN_FLAGS)

stack-check: ## Health of every stack service as a table (exit 1 if one fails)
	$(STACK_PYTHON) deployment/stack_check.py --env-file $(STACK_ENV_FILE) $(STACK_CHECK_FLAGS)

stack-ps: $(STACK_ENV_FILE) ## Containers of the stack and their health
	$(STACK_COMPOSE) ps --all

stack-logs: $(STACK_ENV_FILE) ## Follow the logs of the stack (SERVICE=api for one service)
	$(STACK_COMPOSE) logs --follow --tail 100 $(SERVICE)

stack-config: $(STACK_ENV_FILE) ## Let docker compose validate and print the resolved stack
	$(STACK_COMPOSE) config --quiet && echo "docker-compose.yml: valid"

stack-lint: ## Static checks: compose schema, hadolint, promtool (what runs without Docker)
	$(STACK_BIN)/check-jsonschema --schemafile deployment/schemas/compose-spec.json deployment/docker-compose.yml
	$(STACK_BIN)/hadolint $(STACK_DOCKERFILES)
	promtool check config deployment/prometheus/prometheus.yml
	promtool test rules deployment/prometheus/alerts_test.yml

stack-build: $(STACK_ENV_FILE) ## Build the api, mlflow and airflow images of the stack
	$(STACK_COMPOSE) build

stack-e2e-run: ## On a running stack: train and promote through Airflow and MLflow, score in the API container, check Prometheus and Grafana
	$(STACK_PYTHON) deployment/stack_e2e.py --env-file $(STACK_ENV_FILE) --compose "$(STACK_COMPOSE)" $(STACK_E2E_FLAGS)

stack-logs-dump: $(STACK_ENV_FILE) ## Write every container's log and state under $(STACK_LOG_DIR)/
	mkdir -p $(STACK_LOG_DIR)
	$(STACK_COMPOSE) ps --all > $(STACK_LOG_DIR)/ps.txt 2>&1 || true
	$(STACK_COMPOSE) logs --no-color --timestamps > $(STACK_LOG_DIR)/compose.log 2>&1 || true

# What CI's stack job runs, in one command: build, start and wait, check, the end-to-end
# run, then always tear down (volumes too); the logs are kept in $(STACK_LOG_DIR)/ on failure.
stack-e2e: $(STACK_ENV_FILE) ## The whole stack end to end with Docker (build, up --wait, stack-check, train, score, tear down)
	@status=0; \
	  $(MAKE) --no-print-directory stack-build stack-up stack-check stack-e2e-run || status=$$?; \
	  if [ $$status -ne 0 ]; then $(MAKE) --no-print-directory stack-logs-dump; \
	    echo "stack-e2e failed: logs in $(STACK_LOG_DIR)/"; fi; \
	  $(MAKE) --no-print-directory stack-down STACK_DOWN_FLAGS=-v; \
	  exit $$status

docker-up: stack-up ## Same as stack-up
docker-down: stack-down ## Same as stack-down
health-check: stack-check ## Same as stack-check
