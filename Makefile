# lightmeter: `make demo` runs the main job, `make test` runs every test.
# Both set up what they need: a virtualenv in .venv/, the MicroPython
# WebAssembly port, solc and uPlot in node_modules/ (from package-lock.json), and
# for the tests Debian's Chromium + ChromeDriver (the collector's page) and
# PostgreSQL (the collector's large-scale store), installed with apt when absent.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test bench clean

setup: .stamp-venv .stamp-npm

# Debian packages the tests use; skipped when already there (or when apt is not ours to run).
APT_PACKAGES := chromium chromium-driver postgresql
.stamp-apt:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo 'apt: chromium, chromedriver and postgresql present'; touch $@; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  if apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) >/dev/null; then \
	    touch $@; \
	  else \
	    echo 'apt: installing $(APT_PACKAGES) FAILED: browser and PostgreSQL tests will be skipped (see the skip reasons)'; \
	  fi; \
	else \
	  echo 'apt: cannot install $(APT_PACKAGES) (not root): browser and PostgreSQL tests will be skipped'; \
	fi

.stamp-venv: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

.stamp-npm: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

include mcu/mcu.mk

demo: setup
	$(VENV)/bin/lightmeter demo

test: setup .stamp-apt .stamp-mcu
	$(PY) -m pytest

bench: setup
	$(VENV)/bin/lightmeter bench

clean:
	rm -rf $(VENV) node_modules .stamp-venv .stamp-npm .stamp-mcu .stamp-mcu-apt .pytest_cache .hypothesis mcu/build-*
