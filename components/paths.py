"""Where the pipeline writes and where its pushed models live.

The default output root, the serving root under it, and the model versions in a
serving root. The pipeline's config, the Pusher and the prediction server all take
them from here; this module imports no TFX, so that the server can use them without
loading TFX or ML Metadata.
"""

import os
import re
from typing import List

import tensorflow as tf

REPOSITORY_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUTPUT_ROOT = os.path.join(REPOSITORY_ROOT, 'outputs')
# The pipeline's default name; it names the serving root and the model the server serves.
PIPELINE_NAME = 'arxiv-subject-areas'
# The Pusher copies a model under this prefix, then renames it to its version number.
STAGING_PREFIX = '.staging-'
# A version directory's name: a number as str(int) writes it, so that name and number
# map one to one.
_VERSION_NAME = re.compile(r'0|[1-9][0-9]*')


def serving_root(output_root: str, pipeline_name: str) -> str:
  """The Pusher's destination: one numbered version directory per pushed model."""
  return os.path.join(output_root, 'serving_model', pipeline_name)


DEFAULT_SERVING_ROOT = serving_root(DEFAULT_OUTPUT_ROOT, PIPELINE_NAME)


def versions(root: str) -> List[int]:
  """The model versions under a serving root, oldest first.

  A version is a directory named by its number that holds a SavedModel; staging
  directories, files and other names are not versions. A root that does not exist
  yet has none.
  """
  if not tf.io.gfile.isdir(root):
    return []
  names = (name.rstrip('/') for name in tf.io.gfile.listdir(root))
  return sorted(int(name) for name in names if _VERSION_NAME.fullmatch(name) and
                tf.io.gfile.exists(os.path.join(root, name, 'saved_model.pb')))


def version_dir(root: str, version: int) -> str:
  """The directory of one version under a serving root."""
  return os.path.join(root, str(version))
