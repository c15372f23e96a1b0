# Cairn: `make run` installs everything and starts Cairn; `make test` installs
# everything and runs the whole suite against real PostgreSQL and Redis.
# Both build the canvas bundle (frontend/ -> static/build/) when its sources changed.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.8
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never

# `make run HOST=0.0.0.0 PORT=9000`; else HOST/PORT from the environment or .env,
# else 127.0.0.1:8000 (ops/runmode.py decides, like every other setting).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/cairn
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

# The canvas: npm installs from package-lock.json only when it changed (the stamp
# lives in node_modules, so a fresh `npm ci` clears it), and Vite rebuilds the
# bundle only when a source changed since the manifest was written.
FRONTEND := frontend
NPM := npm --prefix $(FRONTEND)
NPM_STAMP := $(FRONTEND)/node_modules/.cairn-installed
BUNDLE := static/build/.vite/manifest.json
FRONTEND_SOURCES := $(shell find $(FRONTEND)/src $(FRONTEND)/index.html $(FRONTEND)/vite.config.ts \
	$(FRONTEND)/tsconfig*.json -type f 2>/dev/null)
# The browser of the end-to-end tests: Debian's Chromium, never one Playwright downloads.
CHROMIUM := /usr/bin/chromium

.PHONY: install bundle browser run test lint format bench clean

$(VENV)/.installed: pyproject.toml uv.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) sync --frozen --quiet --python $(PY)
	touch $@

install: $(VENV)/.installed

$(NPM_STAMP): $(FRONTEND)/package.json $(FRONTEND)/package-lock.json
	$(NPM) ci --no-audit --no-fund
	touch $@

$(BUNDLE): $(NPM_STAMP) $(FRONTEND_SOURCES)
	$(NPM) run build
	touch $@

bundle: $(BUNDLE)

$(CHROMIUM):
	@if [ "$$(id -u)" != 0 ]; then \
		echo "Chromium is missing: install Debian's chromium (sudo apt-get install chromium)"; \
		exit 1; \
	fi
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

browser: $(CHROMIUM)

# The mode and every value come from `manage.py runmode`, which reads the
# environment and .env exactly as the server does; honcho gets them through the
# environment (-e /dev/null: its own .env reading would override the environment).
# Keys: embedded, the first command (runmode) makes SECRET_KEY and the connection key
# once into .cairn-keys (git-ignored), which the server and every command then read;
# the production shape refuses to start without them (config/keys.py).
run: install bundle
	@resolved="$$($(PY) manage.py runmode --shell --host '$(HOST)' --port '$(PORT)')" && \
	eval "$$resolved" && \
	$(PY) manage.py migrate --noinput && \
	$(PY) manage.py collectstatic --noinput --verbosity 0 && \
	$(PY) manage.py bootstrap --url "$$CAIRN_URL" && \
	echo "$$CAIRN_SUMMARY" && \
	if [ "$$CAIRN_MODE" = production ]; then \
		exec $(VENV)/bin/honcho start -e /dev/null --port "$$PORT"; \
	else \
		exec $(VENV)/bin/daphne -b "$$HOST" -p "$$PORT" config.asgi:application; \
	fi

test: install bundle browser
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(NPM) test
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) staticfiles static/build $(FRONTEND)/node_modules .pytest_cache .ruff_cache
