# One entry point for set-up. `make run` builds the index of the bundled corpus and starts the app;
# `make test` installs everything and runs the tests. Both work on a fresh machine with Python 3.11.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install browser ocr run ingest test test-slow eval bench lint clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU build of torch, pinned: an unpinned torch pulls a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium for the browser tests (Playwright's own browser download is not reachable here).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Debian's Tesseract, for scanned PDF pages (optional at run time: without it such files are skipped, with the reason).
ocr:
	@command -v tesseract >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr >/dev/null; }

ingest: install
	$(VENV)/bin/rla ingest

run: ingest
	$(PY) app.py

test: install browser ocr
	$(VENV)/bin/pytest -q

test-slow: install browser ocr
	$(VENV)/bin/pytest -q -m slow

eval: ingest
	$(VENV)/bin/rla eval --mode all

bench: install
	$(PY) eval/bench.py

# ruff's wider rule set (pyproject.toml), formatting, and types; CI runs this before the tests.
lint: install
	$(VENV)/bin/ruff check rag tests app.py eval
	$(VENV)/bin/ruff format --check rag tests app.py eval
	$(VENV)/bin/mypy

clean:
	rm -rf index build artifacts
