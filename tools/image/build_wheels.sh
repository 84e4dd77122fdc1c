#!/usr/bin/env bash
# The image's builder stage (and `make image-check`): wheels of the runtime
# dependencies PyPI has only as source (tools/image/sdists.txt), at their locked
# versions, into WHEEL_DIR. Needs a C/C++ compiler; the runtime stage then needs none.
# The source archives are checked against the lock's hashes (pip does not check the
# build tools it fetches to compile them: setuptools, wheel).
# Usage: build_wheels.sh PYTHON WHEEL_DIR
set -euo pipefail
cd "$(dirname "$0")/../.."
python=$1 wheels=$2
mkdir -p "$wheels"
names=$(sed -e 's/#.*//' -e '/^ *$/d' -e 's/ *$//' tools/image/sdists.txt | paste -sd '|')
sources=$(mktemp)
trap 'rm -f "$sources"' EXIT
grep -E -i "^($names)==" requirements-runtime.lock > "$sources"
"$python" -m pip wheel --quiet --disable-pip-version-check --no-deps --require-hashes --use-pep517 \
  --wheel-dir "$wheels" -r "$sources"
