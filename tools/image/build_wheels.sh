#!/usr/bin/env bash
# The image's builder stage (and `make image-check`): wheels of the runtime
# dependencies PyPI has only as source (tools/image/sdists.txt), at their locked
# versions, into WHEEL_DIR. Needs a C/C++ compiler; the runtime stage then needs none.
# Usage: build_wheels.sh PYTHON WHEEL_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
python=$1 wheels=$2
mkdir -p "$wheels"
"$python" -m pip wheel --quiet --disable-pip-version-check --no-deps --wheel-dir "$wheels" \
  -c requirements-runtime.lock -r tools/image/sdists.txt
