# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
INDEX_DIR ?= $(or $(HTX_INDEX_DIR),.htx/index)

.PHONY: setup run test index eval bench clean

setup: $(STAMP)

# Re-install only when the project's dependencies change.
$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

index: $(STAMP)
	test -f $(INDEX_DIR)/CURRENT || $(BIN)/htx ingest --corpus corpus --index $(INDEX_DIR)

# With TELEGRAM_BOT_TOKEN set, the Telegram bot runs beside the web endpoint and stops with it.
run: index
	@bot=; if [ -n "$$TELEGRAM_BOT_TOKEN" ]; then $(BIN)/htx bot --index $(INDEX_DIR) & bot=$$!; fi; \
	trap 'if [ -n "$$bot" ]; then kill $$bot 2>/dev/null; fi' EXIT INT TERM; \
	$(BIN)/htx serve --index $(INDEX_DIR)

test: $(STAMP) chromium
	$(BIN)/python -m pytest -n 2 --dist loadfile

# tests/test_browser.py drives the Debian Chromium; as root (CI) install it when missing,
# otherwise that test is skipped with the command to run.
.PHONY: chromium
chromium:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || [ "$$(id -u)" != 0 ] || \
	{ apt-get update -qq && apt-get install -y -qq chromium chromium-driver; }

eval: index
	$(BIN)/htx eval evals/questions.jsonl --index $(INDEX_DIR)
	$(BIN)/htx eval evals/out_of_scope_places.jsonl --index $(INDEX_DIR)

clean:
	rm -rf .htx
