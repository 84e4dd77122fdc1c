#!/usr/bin/env bash
# The image's runtime stage (and `make image-check`): the builder's wheels, then every
# other runtime dependency from requirements-runtime.lock as a binary wheel only, so
# a missing wheel fails here, not in a half-built image.
# Usage: install_runtime.sh PYTHON WHEEL_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
python=$1 wheels=$2
pip=("$python" -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" --no-index --no-deps "$wheels"/*.whl
"${pip[@]}" --only-binary=:all: -r requirements-runtime.lock
