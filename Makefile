# Two entry points: `make run` (set up and serve the demo county) and `make test`.
# Only Python >= 3.12, git and make are needed; everything else comes from the lock files.

VENV := .venv
CHROMIUM := /usr/bin/chromium
PY := $(VENV)/bin/python
LOCK := requirements/dev.txt
ADDR ?= 127.0.0.1:8000

# The first interpreter on PATH that is Python >= 3.12 (pyenv picks 3.12 from .python-version).
BASE_PYTHON ?= $(shell for p in python3.14 python3.13 python3.12 python3 python; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null \
	&& echo $$p && break; done)

.PHONY: run test screenshots setup lock lint clean load fault

run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --scale demo --if-empty
	$(PY) manage.py runserver $(ADDR)

test: setup $(CHROMIUM)
	$(PY) -m pytest $(PYTEST_ARGS)

# The guides' screenshots (docs/screenshots/), taken by the browser tests on the demo county.
screenshots: setup $(CHROMIUM)
	$(PY) -m pytest tests/browser/test_guide_screens.py tests/browser/test_setup_walk.py --screenshots docs/screenshots

# The browser tests drive Debian's chromium (with a CJK font); install both when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
$(CHROMIUM):
	@echo "浏览器测试需要 chromium 和中文字体，正在用 apt 安装 (installing chromium for the browser tests)"
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-wqy-microhei

setup: $(VENV)/.installed .env

# A development checkout runs with DEBUG on (and so the development SECRET_KEY); production
# sets its own environment and has no .env file. The demo signs in without the authenticator-app
# step (two-factor sign-in can be turned off only while DEBUG is on; delete the line to try it).
.env:
	printf 'DEBUG=true\nCOBUILD_OTP_REQUIRED=false\n' > $@

$(VENV)/.installed: $(LOCK)
	@test -n "$(BASE_PYTHON)" || { echo "需要 Python 3.12 或更高版本 (Python >= 3.12 is required)"; exit 1; }
	test -x $(PY) || $(BASE_PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r $(LOCK)
	touch $@

# Regenerate the hashed lock files after editing pyproject.toml.
lock: setup
	$(VENV)/bin/uv pip compile pyproject.toml --universal --python-version 3.12 --generate-hashes --no-header -q -o requirements/main.txt
	$(VENV)/bin/uv pip compile pyproject.toml --group dev --universal --python-version 3.12 --generate-hashes --no-header -q -o requirements/dev.txt

# Load and fault runs (docs/reliability.md): a private PostgreSQL cluster, gunicorn and locust on
# 127.0.0.1, 20 users for 60 s. `make fault` hard-stops that cluster for 10 s in the middle and
# exits non-zero if anything acknowledged was lost or duplicated. LOAD_ARGS="--users 10 --time 30".
load: setup
	$(PY) loadtest/run_load.py $(LOAD_ARGS)

fault: setup
	$(PY) loadtest/fault.py $(LOAD_ARGS)

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

clean:
	rm -rf $(VENV)
