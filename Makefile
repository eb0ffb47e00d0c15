# lightmeter: `make demo` runs the main job, `make test` runs every test.
# Both set up what they need: a virtualenv in .venv/ and the MicroPython
# WebAssembly port in node_modules/ (from package-lock.json).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test bench clean

setup: .stamp-venv .stamp-npm

.stamp-venv: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

.stamp-npm: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

demo: setup
	$(VENV)/bin/lightmeter demo

test: setup
	$(PY) -m pytest

bench: setup
	$(VENV)/bin/lightmeter bench

clean:
	rm -rf $(VENV) node_modules .stamp-venv .stamp-npm .pytest_cache .hypothesis
