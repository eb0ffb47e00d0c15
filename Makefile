# lightmeter: `make demo` runs the main job, `make test` runs every test.
# Both set up what they need: a virtualenv in .venv/, the MicroPython
# WebAssembly port, solc and uPlot in node_modules/ (from package-lock.json), and
# for the tests Debian's Chromium + ChromeDriver (the collector's page) and
# PostgreSQL (the collector's large-scale store), installed with apt when absent;
# without them `make test` fails unless asked for a partial run: make test ALLOW_SKIP=1.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test bench clean

setup: .stamp-venv .stamp-npm

# Debian packages the tests use. Missing and not installable: make test stops here, unless the
# user asks for a partial run by name (make test ALLOW_SKIP=1): then their tests are skipped, and
# pytest lists the reasons (tests/conftest.py fails a full run that skips a promised component).
APT_PACKAGES := chromium chromium-driver postgresql
.stamp-apt:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo 'apt: chromium, chromedriver and postgresql present'; touch $@; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	    && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) >/dev/null; then \
	  touch $@; \
	elif [ -n "$(ALLOW_SKIP)" ]; then \
	  echo 'apt: $(APT_PACKAGES) missing and not installed: ALLOW_SKIP, so their tests will be skipped'; \
	else \
	  echo 'apt: $(APT_PACKAGES) missing and not installable here (needs root and apt-get): install them,'; \
	  echo '     or run a partial suite without them: make test ALLOW_SKIP=1'; exit 1; \
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

# ALLOW_SKIP=1: the mcu port is built if it can be; if not, its tests are skipped.
.PHONY: mcu-if-possible
mcu-if-possible:
	@$(MAKE) --no-print-directory .stamp-mcu || echo 'mcu: not built: ALLOW_SKIP, so its tests will be skipped'

test: setup .stamp-apt $(if $(ALLOW_SKIP),mcu-if-possible,.stamp-mcu)
	ALLOW_SKIP=$(ALLOW_SKIP) $(PY) -m pytest -rs

bench: setup
	$(VENV)/bin/lightmeter bench

clean:
	rm -rf $(VENV) node_modules .stamp-venv .stamp-npm .stamp-mcu .stamp-mcu-apt .pytest_cache .hypothesis mcu/build-*
