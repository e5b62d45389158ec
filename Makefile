# Sunlight: `make` lists the targets. The README's two commands are `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
# pytest-xdist processes for `make test` (tests/workers.py gives each its own Redis database and var/ directory).
TEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help run test lint format migrate demo messages bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements/base.txt requirements/test.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements/test.txt
	@touch $(STAMP)

chromium: ## install Debian's Chromium for the browser tests (never a downloaded browser)
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

run: $(STAMP) ## install, migrate, load the demo data and serve HTTP + websockets on localhost:8000
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/uvicorn config.asgi:application --host 127.0.0.1 --port $(PORT)

test: $(STAMP) chromium ## run every test (PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set)
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run --settings=config.settings.test
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --maxschedchunk 1 $(PYTEST_ARGS)

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(STAMP) ## ruff format
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

migrate: $(STAMP) ## apply migrations
	$(BIN)/python manage.py migrate

demo: $(STAMP) ## (re)load the demo trading centre
	$(BIN)/python manage.py load_demo

messages: $(STAMP) ## extract and compile the English translation
	$(BIN)/python manage.py makemessages -l en --no-obsolete -i ".venv/*" -i "bench/*" -i "tests/*" -i "var/*"
	$(BIN)/python manage.py compilemessages -l en --ignore ".venv/*"

bench: $(STAMP) ## run the benchmarks (prints figures; not tests)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b; done

clean: ## remove the virtualenv and local data
	rm -rf $(VENV) var
