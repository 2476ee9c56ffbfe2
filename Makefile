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

run: index
	$(BIN)/htx serve --index $(INDEX_DIR)

test: $(STAMP)
	$(BIN)/python -m pytest

eval: index
	$(BIN)/htx eval evals/questions.jsonl --index $(INDEX_DIR)

clean:
	rm -rf .htx
