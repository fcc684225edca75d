# Every target creates or reuses what it needs; nothing is installed by hand.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SAM_VENV := .tools/sam
CHECKOV_VENV := .tools/checkov
AWSCLI_VENV := .tools/awscli
DATA_TOOLS_VENV := .tools/data-tools
# sam build needs the Lambda runtime's interpreter (python3.13) on PATH; pyenv keeps one here.
PY313_DIR := $(shell d=$$(command -v python3.13 2>/dev/null); if [ -n "$$d" ]; then dirname "$$d"; else ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.13*/bin 2>/dev/null | tail -n 1; fi)

.PHONY: help venv tools awscli check test unit openapi lint fmt run emulator invoke revoke reinstate revoke-sessions bench deploy clean

help:
	@echo "make run       the local stack: emulated AWS, OIDC issuer, API and demo page on 127.0.0.1"
	@echo "                 PORT=3000 (API, demo page)  IDP_PORT=3001 (issuer)  AWS_PORT=4000 (emulator)"
	@echo "                 STATE_DIR=.local (keys, logs; one make run per folder)"
	@echo "                 CONCURRENCY=4 (execution environments per function: processes, one request at a time)"
	@echo "make test      make check, then the rest of the test suite (installs what it can: venvs, SAM CLI, checkov,"
	@echo "                 AWS CLI, chromium); needs terraform >= 1.9 and python3.13 (pyenv is looked in)"
	@echo "make emulator  only the emulated AWS and the OIDC issuer, in the foreground (AWS_PORT, IDP_PORT, STATE_DIR)"
	@echo "make invoke    FN=<function logical id> EVENT=events/<file>.json [ENDPOINT=<emulator URL>]"
	@echo "                 one handler like 'sam local invoke', against the make run of STATE_DIR, or a temporary"
	@echo "                 stack when none runs (it says which)"
	@echo "make revoke    USER=<email or directory user id>: every execution environment refuses them within 10 s"
	@echo "make reinstate USER=…: serve them again;  make revoke-sessions: end every vended session issued before now"
	@echo "                 against the make run of STATE_DIR, or a deployment with TABLE=<StateTableName> REGION=…"
	@echo "                 (revoke-sessions there: ROLES=<location role ARNs>); docs/revocation.md"
	@echo "make bench     the benchmarks against the local emulator (figures in bench/results/latest.json)"
	@echo "make deploy    Terraform outputs -> sam build -> bytecode -> sam deploy; reads STACK_NAME, REGION, IDC_AWS_PROFILE,"
	@echo "                 JWT_ISSUER, JWT_AUDIENCE, USER_CLAIM, ROLE_CLAIM (iam-role), REQUIRE_EMAIL_VERIFIED,"
	@echo "                 CACHE_MAX_AGE_SECONDS, INSTANCE_SCOPE, SHARED_CACHE, CORS_ALLOWED_ORIGINS, ALARM_EMAIL,"
	@echo "                 AUDIT_USER_IDENTIFIER (claim|digest), DRY_RUN=1"
	@echo "                 (terraform/deploy.sh; alarms and runbooks: docs/operations.md)"
	@echo "make tools     what make test installs (SAM CLI, checkov, AWS CLI, data tools in .tools/; chromium)"
	@echo "make awscli    the AWS CLI alone (.tools/awscli, seconds), and how to put it on PATH"
	@echo "make check     the quick lane, under a minute: ruff, mypy --strict (src/, local/, bench/), lint-imports"
	@echo "                 (the layers declared in pyproject.toml) and the unit tests; make test runs it first"
	@echo "make unit      the unit tests only (no servers, about 30 s)"
	@echo "make openapi   regenerate openapi.yaml from the declared contract (src/edge/contract.py)"
	@echo "make lint      ruff check and format check;  make fmt  fix both"
	@echo "make clean     remove build and cache folders"
	@echo "All targets read PYTHON (default python3) to create .venv."

$(STAMP): src/requirements.txt requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

venv: $(STAMP)

$(SAM_VENV)/.installed:
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check aws-sam-cli==1.170.0
	@touch $@

$(CHECKOV_VENV)/.installed:
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check checkov==3.3.30
	@touch $@

$(AWSCLI_VENV)/.installed:
	@test -x $(AWSCLI_VENV)/bin/python || $(PYTHON) -m venv $(AWSCLI_VENV)
	$(AWSCLI_VENV)/bin/pip install --quiet --disable-pip-version-check awscli==1.46.3
	@touch $@

# PyIceberg, s3fs, pyarrow, DuckDB and polars: the test peers of docs/iceberg.md and docs/data-tools.md.
$(DATA_TOOLS_VENV)/.installed: tests/peers/requirements.txt
	@test -x $(DATA_TOOLS_VENV)/bin/python || $(PYTHON) -m venv $(DATA_TOOLS_VENV)
	$(DATA_TOOLS_VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/peers/requirements.txt
	@touch $@

# SAM CLI, checkov, the AWS CLI and the data tools pin conflicting libraries (the AWS CLI and s3fs their
# own botocore), so each lives in its own virtual environment.
tools: $(STAMP) $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed $(AWSCLI_VENV)/.installed $(DATA_TOOLS_VENV)/.installed
	@command -v terraform >/dev/null || { echo "terraform is required (1.9+, as the roots' required_version) and is not on PATH" >&2; exit 1; }
	@[ -n "$(PY313_DIR)" ] || { echo "python3.13 is required for 'sam build' and was not found" >&2; exit 1; }
	@command -v chromium >/dev/null || { echo "installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || { echo "chromium is required for the browser tests and could not be installed" >&2; exit 1; }; }

# The quick lane (under a minute): what a change must pass before anything starts a server.
check: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	PYTHONPATH=src $(VENV)/bin/lint-imports
	$(PY) -m pytest -m unit -q

# Everything: the quick lane, then every test that needs servers, browsers, SAM or Terraform.
test: check tools
	PATH="$(PY313_DIR):$$PATH" SAM_CLI_TELEMETRY=0 $(PY) -m pytest -m "not unit" --durations=15

unit: venv
	$(PY) -m pytest -m unit -q

openapi: venv
	PYTHONPATH=src $(PY) -m edge.openapi > openapi.yaml

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

PORT ?= 3000
IDP_PORT ?= 3001
AWS_PORT ?= 4000
STATE_DIR ?= .local
CONCURRENCY ?= 4

run: venv
	$(PY) -m local.run --port $(PORT) --idp-port $(IDP_PORT) --aws-port $(AWS_PORT) --state-dir $(STATE_DIR) \
	  --concurrency $(CONCURRENCY)

emulator: venv
	$(PY) -m local.emulator --aws-port $(AWS_PORT) --idp-port $(IDP_PORT) --state-dir $(STATE_DIR)

invoke: venv
	@[ -n "$(FN)" ] && [ -n "$(EVENT)" ] || { echo "usage: make invoke FN=<function logical id> EVENT=events/<file>.json" >&2; exit 2; }
	$(PY) -m local.invoke $(FN) $(EVENT) --state-dir $(STATE_DIR) $(if $(ENDPOINT),--aws-endpoint $(ENDPOINT))

# USER from the command line only: the environment's USER is the login name, never the user to cut off.
USER_ID = $(if $(filter command line,$(origin USER)),$(USER))
REVOCATION_TARGET = --state-dir $(STATE_DIR) $(if $(TABLE),--table $(TABLE)) $(if $(REGION),--region $(REGION))

revoke reinstate: venv
	@PYTHONPATH=src $(PY) -m local.revocation $@ --user "$(USER_ID)" $(REVOCATION_TARGET)

revoke-sessions: venv
	@PYTHONPATH=src $(PY) -m local.revocation $@ --roles "$(ROLES)" $(REVOCATION_TARGET)

awscli: $(AWSCLI_VENV)/.installed
	@echo "the AWS CLI is $(CURDIR)/$(AWSCLI_VENV)/bin/aws; put it on PATH with:"
	@echo '  export PATH="$(CURDIR)/$(AWSCLI_VENV)/bin:$$PATH"' 

bench: venv
	$(PY) -m bench

deploy: $(STAMP) $(SAM_VENV)/.installed
	PATH="$(PY313_DIR):$$PATH" SAM_CLI_TELEMETRY=0 SAM=$(SAM_VENV)/bin/sam ./terraform/deploy.sh

clean:
	rm -rf .aws-sam .pytest_cache .ruff_cache
