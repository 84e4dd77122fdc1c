#!/usr/bin/env bash
# A classic-notebook Jupyter in which TFMA 0.47's and TFDV's views display, set up in
# $1 (default .notebook/) without touching .venv or ~/.jupyter. Run by `make notebook`.
#
# TFMA 0.47 ships its viewers as a classic-notebook extension: Notebook 7 and
# JupyterLab 4 (in the lock, through TFX) cannot load it, nbclassic can. Two fixes
# make the viewers appear every time (each found by loading them in Chromium):
# - the widget manager's JavaScript from widgetsnbextension 3.6.6: from 3.6.7 it is
#   built as ES6 classes, and TFMA's models, made with Backbone's `extend`, lose its
#   static methods ("_deserialize_state is not a function"); the kernel side stays
#   on the lock's ipywidgets 7.8.5, which cannot take 3.6.6 as a package;
# - tfma_preload.js: loads TFMA's bundle with AMD hidden, else a d3 plugin inside it
#   calls RequireJS' define() and a viewer fails now and then.
set -euo pipefail
PYTHON=${PYTHON:-.venv/bin/python}
ROOT=${1:-.notebook}
[ -f "$ROOT/.installed" ] && exit 0
HERE=$(dirname "$0")
"$PYTHON" -m pip install --quiet --target "$ROOT/site" --no-deps nbclassic==1.3.3 nest-asyncio==1.6.0
"$PYTHON" -m pip download --quiet --no-deps widgetsnbextension==3.6.6 -d "$ROOT/wheels"
mkdir -p "$ROOT/data/nbextensions/tfma_preload" "$ROOT/config/nbconfig" "$ROOT/runtime"
"$PYTHON" - "$ROOT" <<'PY'
import pathlib, shutil, sys, zipfile
root = pathlib.Path(sys.argv[1])
prefix = 'widgetsnbextension-3.6.6.data/data/share/jupyter/nbextensions/jupyter-js-widgets/'
target = root / 'data' / 'nbextensions' / 'jupyter-js-widgets'
target.mkdir(parents=True, exist_ok=True)
with zipfile.ZipFile(next((root / 'wheels').glob('widgetsnbextension-3.6.6-*.whl'))) as wheel:
  for name in wheel.namelist():
    if name.startswith(prefix) and not name.endswith('/'):
      with wheel.open(name) as source, open(target / name[len(prefix):], 'wb') as copy:
        shutil.copyfileobj(source, copy)
PY
cp "$HERE/tfma_preload.js" "$ROOT/data/nbextensions/tfma_preload/main.js"
printf '{"load_extensions": {"tfma_preload/main": true, "tensorflow_model_analysis/extension": true}}\n' \
  > "$ROOT/config/nbconfig/notebook.json"
touch "$ROOT/.installed"
