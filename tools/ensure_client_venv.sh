#!/usr/bin/env bash
# Creates .venv-clients (the kfp 2.x SDK and google-cloud-aiplatform, pinned in
# tools/client-requirements.txt) unless it is up to date. Their protobuf >= 4 cannot
# share the pipeline's environment. PYTHON: the interpreter to build it from.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-clients
stamp="$venv/.installed"
if [ ! -f "$stamp" ] || [ tools/client-requirements.txt -nt "$stamp" ]; then
  "${PYTHON:-python3}" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r tools/client-requirements.txt
  touch "$stamp"
fi
