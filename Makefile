# Every target creates or reuses the project's virtual environment (.venv) itself.
PYTHON ?= $(firstword $(wildcard /root/.pyenv/versions/3.10*/bin/python3.10) python3.10)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

CLIENTS := .venv-clients/.installed

.PHONY: run test serve bench backtest bench-scale bench-serve bench-evidence venv clean kubeflow \
	image-check hash-lock pipeline-image notebook

run: $(INSTALLED)
	$(BIN)/python pipeline/run_local.py $(ARGS)

test: $(INSTALLED) $(CLIENTS)
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

# How much of the evidence the portal shows for a run's test papers is function words.
bench-evidence: $(INSTALLED)
	$(BIN)/python -m benchmarks.evidence $(ARGS)

# The Kubeflow Pipelines 2.x package (pipeline/run_kubeflow.py), then loaded and
# nested in a pipeline by the real kfp SDK. Point KUBEFLOW_ARGS at your image,
# storage and data.
KUBEFLOW_ARGS ?= --image arxiv-subject-areas:latest --output-root s3://BUCKET/arxiv \
	--data 's3://BUCKET/data/arxiv_cs_{YYYY}-{MM}.csv.gz'
KUBEFLOW_PACKAGE ?= arxiv_subject_areas_kfp.yaml
kubeflow: $(INSTALLED) $(CLIENTS)
	$(BIN)/python pipeline/run_kubeflow.py $(KUBEFLOW_ARGS) --output $(KUBEFLOW_PACKAGE) $(ARGS)
	.venv-clients/bin/python tools/kfp_clients.py load-and-nest $(KUBEFLOW_PACKAGE) \
	  $$(mktemp --suffix=.yaml) 's3://BUCKET/other/*.csv.gz' > /dev/null
	@echo "$(KUBEFLOW_PACKAGE): loaded and nested by kfp $$(.venv-clients/bin/pip show kfp | sed -n 's/^Version: //p')"

# The Dockerfile's Python install, reproduced in a clean virtual environment (Docker
# cannot run here), and every dotted path of the compiled spec imported in it.
image-check: $(INSTALLED)
	tools/image/check.sh $(PYTHON) $(BIN)/python

# PyPI's sha256 hashes of the files the image installs, into requirements-runtime.lock
# (after the lock changes): the image installs with --require-hashes.
hash-lock: $(INSTALLED)
	$(BIN)/python tools/image/hash_lock.py

# The DAG picture in the README (docs/images/pipeline.svg), drawn from the pipeline's
# definition; tests/test_docs.py checks that the committed one still matches it.
pipeline-image: $(INSTALLED)
	$(BIN)/python tools/draw_pipeline.py

# Jupyter (classic UI) on 127.0.0.1:8888 with notebooks/evaluation.ipynb, in which
# TFMA's and TFDV's views display: docs/evaluation.md.
NOTEBOOK := $(CURDIR)/.notebook
notebook: $(INSTALLED)
	tools/notebook/setup.sh $(NOTEBOOK)
	PYTHONPATH=$(NOTEBOOK)/site JUPYTER_PREFER_ENV_PATH=0 JUPYTER_CONFIG_DIR=$(NOTEBOOK)/config \
	  JUPYTER_DATA_DIR=$(NOTEBOOK)/data JUPYTER_RUNTIME_DIR=$(NOTEBOOK)/runtime \
	  $(BIN)/python -m nbclassic --no-browser --ip 127.0.0.1 --port 8888 \
	  --NotebookApp.default_url=/nbclassic/notebooks/notebooks/evaluation.ipynb $(ARGS)

venv: $(INSTALLED)

# kfp 2.x and google-cloud-aiplatform, for checking the compiled pipelines: their
# protobuf >= 4 cannot share .venv.
$(CLIENTS): tools/client-requirements.txt tools/ensure_client_venv.sh
	PYTHON=$(PYTHON) tools/ensure_client_venv.sh

$(INSTALLED): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 10), sys.version' || \
	  { echo "Python 3.10 is needed (TFX 1.16); set PYTHON=/path/to/python3.10"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --quiet --log $(VENV)/pip.log --upgrade pip
	$(BIN)/python -m pip install --quiet --quiet --log $(VENV)/pip.log -c requirements.lock -e '.[dev]'
	touch $@

clean:
	rm -rf outputs build
