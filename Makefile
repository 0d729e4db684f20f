# The two commands: `make run` and `make test`. Both bootstrap .venv from nothing but python3.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SETTINGS_LOCAL := nija_site.settings.local

.PHONY: run test lint bench clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	DJANGO_SETTINGS_MODULE=$(SETTINGS_LOCAL) $(PY) manage.py migrate --noinput
	DJANGO_SETTINGS_MODULE=$(SETTINGS_LOCAL) $(PY) manage.py seed_demo
	DJANGO_SETTINGS_MODULE=$(SETTINGS_LOCAL) $(PY) manage.py ensure_staff_login
	DJANGO_SETTINGS_MODULE=$(SETTINGS_LOCAL) $(PY) manage.py run_backoffice

test: $(VENV)/.dev
	$(PY) -m ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(PY) -m ruff check .

bench: $(VENV)/.dev
	for script in bench/*.py; do DJANGO_SETTINGS_MODULE=$(SETTINGS_LOCAL) $(PY) $$script || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
