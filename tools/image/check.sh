#!/usr/bin/env bash
# make image-check: the image's Python install, reproduced where Docker cannot run.
# In a clean virtual environment from PYTHON: the builder stage's wheels, the runtime
# stage's binary-only install of requirements-runtime.lock, the project; then every
# dotted path the compiled pipeline spec references is imported there, and Beam's
# worker entry points. Work files under build/image-check.
# Usage: check.sh PYTHON PROJECT_PYTHON (the second compiles the spec).
set -euo pipefail
cd "$(dirname "$0")/../.."
python=$1 project_python=$2
work=build/image-check
rm -rf "$work"
mkdir -p "$work"
"$python" -m venv "$work/venv"
image_python=$work/venv/bin/python

echo "image-check: builder stage (wheels of tools/image/sdists.txt)"
tools/image/build_wheels.sh "$image_python" "$work/wheels"
echo "image-check: runtime stage (binary wheels only, requirements-runtime.lock)"
tools/image/install_runtime.sh "$image_python" "$work/wheels"
"$image_python" -m pip install --quiet --disable-pip-version-check --no-deps .
"$image_python" -m pip check

echo "image-check: what the compiled spec references"
"$project_python" pipeline/run_vertex.py --image image-check --output-root gs://image-check/out \
  --data 'gs://image-check/data/arxiv_cs_{YYYY}-{MM}.csv.gz' --output "$work/spec.json" > /dev/null
# The image's environment (the Dockerfile's ENV) and a working directory outside the
# repository, so that only the installed packages can answer the imports.
(cd "$work" && TF_USE_LEGACY_KERAS=1 TF_CPU_ALLOCATOR_USE_BFC=true RUN_PYTHON_SDK_IN_DEFAULT_ENVIRONMENT=1 \
  venv/bin/python "$OLDPWD/tools/image/check_imports.py" spec.json)
echo "image-check: passed"
