#!/usr/bin/env bash
# The image's runtime stage (and `make image-check`): the builder's wheels, then every
# other runtime dependency from requirements-runtime.lock as a binary wheel only, each
# file checked against the lock's sha256 hashes (--require-hashes), so a missing wheel
# or a file that is not the one locked fails here, not in a half-built image. The lock
# is the whole closure, so pip resolves nothing (--no-deps) and `pip check` then
# proves every requirement met.
# Usage: install_runtime.sh PYTHON WHEEL_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
python=$1 wheels=$2
pip=("$python" -m pip install --quiet --disable-pip-version-check --no-deps)
"${pip[@]}" --no-index "$wheels"/*.whl
"${pip[@]}" --only-binary=:all: --require-hashes -r requirements-runtime.lock
"$python" -m pip check --disable-pip-version-check
