# The pipeline image: what every component runs in on Vertex AI / Kubeflow, and the
# Beam worker image on Dataflow, Flink or Spark. Build from the repository root:
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/arxiv-subject-areas:TAG .
# `make image-check` runs the same install scripts in a clean virtual environment.

# Beam's SDK harness launcher: Dataflow, Flink and Spark start workers through it.
FROM apache/beam_python3.10_sdk:2.62.0 AS beam

# Builder: wheels of the few runtime dependencies PyPI has only as source.
FROM python:3.10.20-slim-bookworm AS builder
RUN apt-get update \
    && apt-get install --yes --no-install-recommends g++=4:12.2.0-3 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY requirements-runtime.lock ./
COPY tools/image/ tools/image/
RUN tools/image/build_wheels.sh python /wheels

FROM python:3.10.20-slim-bookworm

# RUN_PYTHON_SDK_IN_DEFAULT_ENVIRONMENT: Beam's boot runs the worker in this Python
# instead of creating a virtual environment under /opt/apache/beam-venv, which the
# non-root user could not write. TF_CPU_ALLOCATOR_USE_BFC: TensorFlow pools its CPU
# memory (components/__init__.py says why), also in entry points that load it first.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_USE_LEGACY_KERAS=1 \
    TF_CPU_ALLOCATOR_USE_BFC=true \
    RUN_PYTHON_SDK_IN_DEFAULT_ENVIRONMENT=1

WORKDIR /pipeline

# Runtime dependencies only (requirements-runtime.lock: no test or notebook-server
# packages), exactly as checked, so code changes reuse this layer.
COPY requirements-runtime.lock ./
COPY tools/image/ tools/image/
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    tools/image/install_runtime.sh python /wheels

# The project: editable, so that the schema and the sample data resolve under
# /pipeline (IMAGE_REPOSITORY_ROOT in pipeline/config.py).
COPY pyproject.toml README.md ./
COPY components/ components/
COPY pipeline/ pipeline/
COPY serving/ serving/
COPY benchmarks/ benchmarks/
COPY schema/ schema/
COPY data/ data/
RUN pip install --no-deps -e . && useradd --create-home --uid 1000 pipeline
COPY --from=beam /opt/apache/beam /opt/apache/beam

# TFX's Kubeflow V2 launcher sets each step's command itself; Beam runners start the
# image as a worker (add --worker_pool for a Flink / Spark worker pool). Nothing runs
# as root.
USER 1000
ENTRYPOINT ["/opt/apache/beam/boot"]
