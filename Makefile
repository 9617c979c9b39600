# Two commands on a fresh machine: `make apply` (the main job) and `make test`.
# Everything installs into the project: a venv in .venv, Terraform in .platform/bin. No system Node needed.
VENV ?= .venv
BIN := $(VENV)/bin
export PLATFORM_TERRAFORM ?= $(CURDIR)/.platform/bin/terraform
# Tools only the tests use live here; tests/test_check.py points checkov runs at the same place.
TEST_TOOLS := $(CURDIR)/.platform/tools
CHECKOV := $(TEST_TOOLS)/checkov/.platform-installed
# Independent tests run on every core (pytest-xdist); a module with module-scoped fixtures stays on one worker.
PYTEST_PARALLEL ?= -n auto --dist loadgroup

.PHONY: setup test-tools apply test test-fast coverage lint bench
setup: $(VENV)/.installed $(PLATFORM_TERRAFORM)
	@# bytecode of our modules, written once: every `platform` process and every start of the local cloud's provider
	@# (once per stack and operation) imports them, and with PYTHONDONTWRITEBYTECODE set (as on CI machines) each
	@# would compile them again
	$(BIN)/python -m compileall -q platform_sdk

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

$(PLATFORM_TERRAFORM): scripts/install_terraform.sh
	bash scripts/install_terraform.sh $(dir $(PLATFORM_TERRAFORM))

test-tools: $(CHECKOV)  ## what only the tests need (checkov, in its own venv), installed once before the suite

$(CHECKOV): platform_sdk/gate/checkov.py | $(VENV)/.installed
	PLATFORM_TOOLS_DIR=$(TEST_TOOLS) $(BIN)/python scripts/install_checkov.py
	touch $@

apply: setup  ## the main job: apply the example estate to the embedded local cloud
	bash scripts/ensure_database_server.sh
	$(BIN)/platform apply --env local --auto-approve

test: setup test-tools  ## lint + the whole test suite (real CDKTF, real Terraform, local cloud, moto, GCS emulator)
	$(BIN)/ruff check .
	$(BIN)/pytest -q $(PYTEST_PARALLEL) --durations=25

test-fast: setup test-tools  ## unit + synthesis tests: leaves out end-to-end (marker e2e) and real-server tests (servers)
	$(BIN)/pytest -q $(PYTEST_PARALLEL) -m "not e2e and not servers"

coverage: setup test-tools  ## the whole suite with line coverage of platform_sdk (see docs/testing.md)
	$(BIN)/pytest -q $(PYTEST_PARALLEL) --cov=platform_sdk --cov-report=term --cov-report=html:.platform/coverage

bench: setup  ## side-by-side benchmarks (bench_copy compares with rclone: apt-get install rclone)
	$(BIN)/python bench/bench_synth.py
	$(BIN)/python bench/bench_plan.py
	$(BIN)/python bench/bench_copy.py
