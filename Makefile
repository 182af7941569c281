# hezuo — the two commands: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HEZUO := $(VENV)/bin/hezuo
STAMP := $(VENV)/.installed
BENCH_SIZE ?= 100000

.PHONY: demo test bench lint typecheck check messages clean setup

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "hezuo needs Python 3.11 or newer")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -e .
	touch $(STAMP)

setup: $(STAMP)
	$(HEZUO) setup

demo: setup
	$(HEZUO) demo --if-empty
	$(HEZUO) serve

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile -q $(PYTEST_ARGS)

bench: $(STAMP)
	BENCH_SIZE=$(BENCH_SIZE) $(PY) -m benchmarks.run $(BENCH_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy hezuo

check: lint typecheck test

messages: $(STAMP)
	cd hezuo && ../$(PY) ../manage.py makemessages -l zh_Hans --no-obsolete --ignore='migrations/*'
	cd hezuo && ../$(PY) ../manage.py compilemessages -l zh_Hans

clean:
	rm -rf $(VENV) var test-artifacts bench-data
