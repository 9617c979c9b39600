# Two commands on a fresh machine: `make apply` (the main job) and `make test`.
# Everything installs into the project: a venv in .venv, Terraform in .platform/bin. No system Node needed.
VENV ?= .venv
BIN := $(VENV)/bin
export PLATFORM_TERRAFORM ?= $(CURDIR)/.platform/bin/terraform

.PHONY: setup apply test lint bench
setup: $(VENV)/.installed $(PLATFORM_TERRAFORM)

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

$(PLATFORM_TERRAFORM): scripts/install_terraform.sh
	bash scripts/install_terraform.sh $(dir $(PLATFORM_TERRAFORM))

apply: setup  ## the main job: apply the example estate to the embedded local cloud
	$(BIN)/platform apply --env local --auto-approve

test: setup  ## lint + the whole test suite (real CDKTF, real Terraform, local cloud, moto, GCS emulator)
	$(BIN)/ruff check .
	$(BIN)/pytest -q

bench: setup  ## side-by-side benchmarks (bench_copy compares with rclone: apt-get install rclone)
	$(BIN)/python bench/bench_synth.py
	$(BIN)/python bench/bench_plan.py
	$(BIN)/python bench/bench_copy.py
