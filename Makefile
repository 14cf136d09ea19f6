# Two commands matter: `make run` (the whole product on 127.0.0.1:8000) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_ADMIN_USERNAME ?= admin
DEMO_ADMIN_PASSWORD ?= admin-demo-password
export DEMO_ADMIN_USERNAME DEMO_ADMIN_PASSWORD

.PHONY: install run test lint format migrate seed clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py seed_demo_promotions
	$(BIN)/python manage.py seed_demo_delivery

run: seed
	@echo ""
	@echo "  API docs:   http://$(HOST):$(PORT)/api/docs"
	@echo "  API schema: http://$(HOST):$(PORT)/api/schema"
	@echo "  Admin:      http://$(HOST):$(PORT)/admin/  (login: $(DEMO_ADMIN_USERNAME) / $(DEMO_ADMIN_PASSWORD))"
	@echo "  Demo:       http://$(HOST):$(PORT)/demo/ (a shopper's scan & pay) and /demo/gate (the exit gate)"
	@echo "  Sandbox:    POST http://$(HOST):$(PORT)/sandbox/wechat/login-codes {\"shopper\": \"li-na\"} mints a WeChat login code"
	@echo "  Ctrl-C stops the API, the Celery worker and Celery beat."
	@echo ""
	HOST=$(HOST) PORT=$(PORT) PUBLIC_BASE_URL=$${PUBLIC_BASE_URL:-http://$(HOST):$(PORT)} exec $(BIN)/honcho --procfile Procfile.dev start

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var/db.sqlite3* var/test_db.sqlite3* var/celery-broker var/celerybeat-schedule*
