# The two commands: `make run` and `make test`. Both bootstrap .venv from nothing but python3.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SETTINGS_LOCAL := nija_site.settings.local
# Both cores: the suite is about 1,350 tests and takes ~3.5 min on two workers of this 2-core machine.
PYTEST_ARGS ?= -n 2

.PHONY: run test lint bench mutation clean

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
	DJANGO_SETTINGS_MODULE=$(SETTINGS_LOCAL) $(PY) manage.py ensure_portal_login
	DJANGO_SETTINGS_MODULE=$(SETTINGS_LOCAL) $(PY) manage.py run_backoffice

test: $(VENV)/.dev
	$(PY) -m ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(PY) -m ruff check .

bench: $(VENV)/.dev
	for script in bench/*.py; do DJANGO_SETTINGS_MODULE=$(SETTINGS_LOCAL) $(PY) $$script || exit 1; done

# Mutation testing of lots, sizing, performance and risk (issue 16); about 10 min on 2 idle cores.
# MUTATION_ARGS="--module reporting/lots.py --sample 100" or "--changed-since main" to bound a run.
mutation: $(VENV)/.dev
	nice -n 10 $(PY) -m bench.mutation.mutate --output bench/results/mutation.md $(MUTATION_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
