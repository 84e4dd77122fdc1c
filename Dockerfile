# The pipeline image: what every component runs in on Vertex AI / Kubeflow, and the
# Beam worker image on Dataflow, Flink or Spark. Build from the repository root:
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/arxiv-subject-areas:TAG .

# Beam's SDK harness launcher: Dataflow, Flink and Spark start workers through it.
FROM apache/beam_python3.10_sdk:2.62.0 AS beam

FROM python:3.10.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_USE_LEGACY_KERAS=1

WORKDIR /pipeline

# Dependencies first, exactly as tested, so code changes reuse this layer.
COPY requirements.lock ./
RUN pip install -r requirements.lock

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
