# Two entry points matter: `make demo` and `make test` (see README). Both set everything up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup demo test test-fast lint eval bench fuzz lock clean schema-snapshot

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "newswatch needs Python 3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements.lock
	$(BIN)/python -m pip check
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/newswatch demo

test: $(STAMP)
	$(BIN)/python -m pytest

# The fuzz suite with 50x the examples CI runs (same fixed seed; NEWSWATCH_FUZZ_RANDOM=1 for new ones).
fuzz: $(STAMP)
	NEWSWATCH_FUZZ_EXAMPLES=$${NEWSWATCH_FUZZ_EXAMPLES:-3000} $(BIN)/python -m pytest tests/test_fuzz_feeds.py tests/test_fuzz_text.py tests/test_fuzz_netguard.py -p no:cacheprovider --timeout=3600

lint: $(STAMP)
	$(BIN)/ruff check flows pipeline extract transform warehouse newswatch demosite webui tests bench eval
	$(BIN)/lint-imports
	$(BIN)/mypy

# Quality figures on ../shared/eval (third-party data, read in place, never copied).
eval: $(STAMP)
	$(BIN)/python eval/eval_extraction.py
	$(BIN)/python eval/eval_feeds.py
	$(BIN)/python eval/eval_quotes.py
	$(BIN)/python eval/eval_ner.py
	$(BIN)/python eval/eval_stories.py

bench: $(STAMP)
	$(BIN)/python bench/throughput.py

# Refresh tests/fixtures/schema_snapshot.txt after adding a migration (review the diff).
schema-snapshot: $(STAMP)
	$(BIN)/python tests/test_schema_snapshot.py --update

# Re-resolve the lock file (needs uv: pip install uv).
lock:
	uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

clean:
	rm -rf $(VENV) demo-data .pytest_cache
