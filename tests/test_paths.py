"""components/paths.py: the versions in a serving root, and the defaults that the
pipeline and the prediction server share without the server importing the pipeline."""

import os
import subprocess
import sys

from components import paths
from serving.predictor import resolve_model_dir


def _version(root, name, saved_model=True):
  os.makedirs(root / name)
  if saved_model:
    (root / name / 'saved_model.pb').write_bytes(b'')


def test_versions_are_numbered_directories_with_a_saved_model_in_numeric_order(tmp_path):
  for name in ('10', '9', '100', '.staging-200', 'saved', '007', '1e3', '\u00b2'):
    _version(tmp_path, name)
  _version(tmp_path, '300', saved_model=False)  # Not a model (yet).
  (tmp_path / '400').write_text('a file')
  assert paths.versions(str(tmp_path)) == [9, 10, 100]
  assert paths.version_dir(str(tmp_path), 100) == str(tmp_path / '100')


def test_a_serving_root_that_does_not_exist_yet_has_no_versions(tmp_path):
  assert paths.versions(str(tmp_path / 'nothing pushed yet')) == []


def test_the_predictor_takes_the_newest_version_or_a_model_directory_itself(tmp_path):
  for name in ('9', '10'):
    _version(tmp_path, name)
  assert resolve_model_dir(str(tmp_path)) == str(tmp_path / '10')
  assert resolve_model_dir(str(tmp_path / '9')) == str(tmp_path / '9')


def test_the_server_serves_where_the_pipeline_pushes_by_default():
  from pipeline.config import PipelineConfig  # pylint: disable=g-import-not-at-top
  from serving.server import ServerSettings  # pylint: disable=g-import-not-at-top
  assert ServerSettings().serving_root == PipelineConfig().serving_model_dir
  assert ServerSettings().model_name == PipelineConfig().pipeline_name


def test_the_server_loads_neither_tfx_nor_ml_metadata_nor_the_pipeline():
  code = ('import sys, serving.server\n'
          'print(sorted({name.split(".")[0] for name in sys.modules} & '
          '{"tfx", "ml_metadata", "pipeline"}))')
  completed = subprocess.run([sys.executable, '-c', code], cwd=paths.REPOSITORY_ROOT,
                             capture_output=True, text=True, check=True, timeout=300)
  assert completed.stdout.splitlines()[-1] == '[]'
