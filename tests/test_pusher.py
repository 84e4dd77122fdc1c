"""The Pusher publishes blessed models atomically and each model once."""

import json
import os

from tfx.types import standard_artifacts
from tfx.utils import proto_utils
from tfx import v1 as tfx

from components import paths, pusher


def _push(tmp_path, model_name, blessed, serving_root):
  model = standard_artifacts.Model()
  model.uri = str(tmp_path / model_name)
  serving_dir = os.path.join(model.uri, 'Format-Serving')
  os.makedirs(serving_dir, exist_ok=True)
  with open(os.path.join(serving_dir, 'saved_model.pb'), 'w') as f:
    f.write(model_name)
  blessing = standard_artifacts.ModelBlessing()
  blessing.uri = str(tmp_path / f'{model_name}-blessing')
  blessing.set_int_custom_property('blessed', int(blessed))
  pushed = standard_artifacts.PushedModel()
  pushed.uri = str(tmp_path / f'{model_name}-pushed-{len(os.listdir(tmp_path))}')
  destination = tfx.proto.PushDestination(
      filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_root))
  pusher.Executor().Do({'model': [model], 'model_blessing': [blessing]},
                       {'pushed_model': [pushed]},
                       {'push_destination': proto_utils.proto_to_json(destination)})
  return pushed


def test_blessed_model_is_published_through_staging_with_its_provenance(tmp_path):
  root = str(tmp_path / 'serving')
  pushed = _push(tmp_path, 'model-a', True, root)
  assert pushed.get_int_custom_property('pushed') == 1
  [number] = paths.versions(root)
  version = paths.version_dir(root, number)
  assert os.listdir(root) == [str(number)]  # No staging left behind.
  assert pushed.get_string_custom_property('pushed_destination') == version
  with open(os.path.join(version, 'saved_model.pb')) as f:
    assert f.read() == 'model-a'
  with open(os.path.join(version, pusher.PROVENANCE_FILE)) as f:
    assert json.load(f)['model_uri'] == str(tmp_path / 'model-a')


def test_the_same_model_is_not_published_twice_and_a_new_one_is(tmp_path):
  root = str(tmp_path / 'serving')
  first = _push(tmp_path, 'model-a', True, root)
  again = _push(tmp_path, 'model-a', True, root)
  assert again.get_string_custom_property('pushed_destination') == (
      first.get_string_custom_property('pushed_destination'))
  assert len(paths.versions(root)) == 1
  newer = _push(tmp_path, 'model-b', True, root)
  first_version, second_version = paths.versions(root)
  assert second_version > first_version
  assert newer.get_string_custom_property('pushed_destination') == paths.version_dir(
      root, second_version)


def test_a_model_that_is_not_blessed_never_reaches_the_serving_root(tmp_path):
  root = str(tmp_path / 'serving')
  _push(tmp_path, 'model-a', True, root)
  refused = _push(tmp_path, 'model-b', False, root)
  assert refused.get_int_custom_property('pushed') == 0
  [number] = paths.versions(root)
  with open(os.path.join(paths.version_dir(root, number), 'saved_model.pb')) as f:
    assert f.read() == 'model-a'
