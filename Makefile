# Every target creates or reuses the project's virtual environment (.venv) itself.
PYTHON ?= $(firstword $(wildcard /root/.pyenv/versions/3.10*/bin/python3.10) python3.10)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test serve bench backtest bench-scale bench-serve venv clean

run: $(INSTALLED)
	$(BIN)/python pipeline/run_local.py $(ARGS)

test: $(INSTALLED)
	tools/ensure_browser.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The prediction server (TF Serving's REST API and the portal page) on 127.0.0.1:8501.
serve: $(INSTALLED)
	$(BIN)/python -m serving.server $(ARGS)

# Benchmarks (not part of `make test`): the full data set lives outside the repository.
bench: $(INSTALLED)
	$(BIN)/python -m benchmarks.run $(ARGS)

# Quality on next month's papers: train on the months before each of the last 4.
backtest: $(INSTALLED)
	$(BIN)/python -m benchmarks.backtest $(ARGS)

bench-scale: $(INSTALLED)
	$(BIN)/python -m benchmarks.scale $(ARGS)

bench-serve: $(INSTALLED)
	$(BIN)/python -m benchmarks.serve $(ARGS)

venv: $(INSTALLED)

$(INSTALLED): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 10), sys.version' || \
	  { echo "Python 3.10 is needed (TFX 1.16); set PYTHON=/path/to/python3.10"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

clean:
	rm -rf outputs
