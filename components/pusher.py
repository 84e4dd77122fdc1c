"""Pusher that publishes a blessed model atomically, and each model only once.

TFX's Pusher copies into the version directory in place (a server can see it half
written) and pushes again on every rerun that re-evaluates the same model. This one
copies into a hidden staging directory and renames it into place, and records which
Trainer model a version holds (`assets.extra/provenance.json`, a file TF Serving
ignores) so that the model already serving is not pushed twice.
"""

import json
import os
import time
from typing import Any, Dict, List, Optional

from tfx import types
from tfx import v1 as tfx
from tfx.components.pusher import executor as tfx_pusher_executor
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils
from tfx.utils import io_utils
from tfx.utils import proto_utils

from components import paths

PROVENANCE_FILE = os.path.join('assets.extra', 'provenance.json')


def _provenance(version_dir: str) -> Dict[str, Any]:
  path = os.path.join(version_dir, PROVENANCE_FILE)
  if not fileio.exists(path):
    return {}
  with fileio.open(path) as f:
    return json.loads(f.read())


class Executor(tfx_pusher_executor.Executor):
  """Pushes to `<serving root>/<unix time>` through a staging directory."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    pushed_model = artifact_utils.get_single_instance(output_dict['pushed_model'])
    if not self.CheckBlessing(input_dict):
      self._MarkNotPushed(pushed_model)
      return
    model_uri = artifact_utils.get_single_instance(input_dict['model']).uri
    destination = proto_utils.json_to_proto(exec_properties['push_destination'],
                                            pusher_pb2.PushDestination())
    serving_root = destination.filesystem.base_directory
    version_dir = self._serving_version_of(serving_root, model_uri) or self._publish(
        self.GetModelPath(input_dict), model_uri, serving_root)
    io_utils.copy_dir(self.GetModelPath(input_dict), pushed_model.uri)
    self._MarkPushed(pushed_model, pushed_destination=version_dir,
                     pushed_version=os.path.basename(version_dir))

  @staticmethod
  def _serving_version_of(serving_root: str, model_uri: str) -> Optional[str]:
    """The newest version, if it already holds this Trainer model."""
    versions = paths.versions(serving_root)
    if versions:
      newest = paths.version_dir(serving_root, versions[-1])
      if _provenance(newest).get('model_uri') == model_uri:
        return newest
    return None

  @staticmethod
  def _publish(model_path: str, model_uri: str, serving_root: str) -> str:
    versions = paths.versions(serving_root)
    # Versions only ever increase.
    version = max(int(time.time()), versions[-1] + 1 if versions else 0)
    staging = os.path.join(serving_root, paths.STAGING_PREFIX + str(version))
    final = paths.version_dir(serving_root, version)
    io_utils.copy_dir(model_path, staging)
    fileio.makedirs(os.path.dirname(os.path.join(staging, PROVENANCE_FILE)))
    with fileio.open(os.path.join(staging, PROVENANCE_FILE), 'w') as f:
      f.write(json.dumps({'model_uri': model_uri, 'pushed_at': time.time()}))
    fileio.rename(staging, final)
    return final


class Pusher(tfx.components.Pusher):
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)
