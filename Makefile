# Two commands for a fresh machine with Python 3.11+ and make: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test fuzz install browser dovecot i18n-tools messages lint bench-help clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

install: $(INSTALLED)

## Set up and start everything: web :8000, Celery worker and beat, Marketo/Salesforce sandboxes.
run: $(INSTALLED)
	$(BIN)/python -m salesactions.run

## Find or install a Chromium for the browser tests (BROWSER_PATH names one); remembered in .venv/.browser.
browser: $(INSTALLED)
	$(BIN)/python scripts/find_browser.py

## Install Dovecot (dovecot-imapd) for the mailbox tests when missing (apt-get as root on Debian).
dovecot: $(INSTALLED)
	$(BIN)/python scripts/install_dovecot.py

## Install gettext (catalog checks) and a Chinese font (screenshots) when missing (apt-get as root on Debian).
i18n-tools: $(INSTALLED)
	$(BIN)/python scripts/install_i18n_tools.py

## Translation catalogs: merge any i18n_parts/, makemessages and compilemessages for the five languages, counts.
messages: $(INSTALLED)
	$(BIN)/python scripts/messages.py

## Set up and run the whole test suite (SQLite unless DATABASE_URL says otherwise).
test: $(INSTALLED) browser dovecot i18n-tools
	$(BIN)/python -m pytest

## Only the API fuzz stage (part of `make test`): every operation in /api/schema/, fixed seed.
fuzz: $(INSTALLED)
	$(BIN)/python -m pytest tests/api/test_api_fuzz.py

lint: $(INSTALLED)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) var staticfiles
