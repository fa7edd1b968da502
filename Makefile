# The README's two commands: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= data

.PHONY: venv demo test lint clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "steadyback needs $(PYTHON) (set PYTHON=...)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: venv
	$(BIN)/steadyback demo --data-dir $(DATA_DIR)

test: venv
	$(BIN)/python -m pytest -n auto --dist loadgroup

lint: venv
	$(BIN)/ruff check pipelines dashboards tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache
