"""Multi-hot labels over the label vocabulary, and the inverse (multi-hot -> names).

Transform stores a paper's labels as vocabulary ids (a sparse row); these helpers
turn them into the dense multi-hot vector the model learns and back into names.
"""

from typing import List, Sequence

import numpy as np
import tensorflow as tf
from tensorflow_transform import analyzers

from components import errors

_EMPTY_VOCABULARY_PLACEHOLDER = analyzers.get_empy_vocabulary_dummy_value(
    tf.string)[1].decode('utf-8')


def multi_hot(label_ids: tf.SparseTensor, num_labels: int) -> tf.Tensor:
  """[batch, ?] sparse label ids -> [batch, num_labels] float 0/1 vector."""
  rows = label_ids.indices[:, 0]
  positions = tf.stack([rows, tf.cast(label_ids.values, tf.int64)], axis=1)
  batch_size = tf.cast(label_ids.dense_shape[0], tf.int64)
  hot = tf.scatter_nd(positions, tf.ones_like(label_ids.values, tf.float32),
                      tf.stack([batch_size, tf.constant(num_labels, tf.int64)]))
  return tf.minimum(hot, 1.0)  # A repeated id still means one label.


def names_to_multi_hot(label_names: Sequence[Sequence[str]],
                       vocabulary: Sequence[str]) -> np.ndarray:
  """Each paper's label names -> a [papers, labels] float 0/1 matrix over `vocabulary`;
  names outside it are left out, as the model cannot predict them."""
  column = {label: i for i, label in enumerate(vocabulary)}
  encoded = np.zeros((len(label_names), len(vocabulary)), np.float32)
  for row, names in enumerate(label_names):
    encoded[row, [column[name] for name in names if name in column]] = 1.0
  return encoded


def invert_multi_hot(encoded: np.ndarray, vocabulary: Sequence[str]) -> List[str]:
  """The reference's `invert_multi_hot`: names of the positions that are set."""
  return [vocabulary[i] for i in np.flatnonzero(np.asarray(encoded) >= 0.5)]


def read_vocabulary(path: str) -> List[str]:
  """Reads a tf.Transform label vocabulary file: one entry per line, most frequent
  first. An empty one stops the run: tf.Transform writes a placeholder entry there,
  which a model would otherwise learn as a label."""
  with tf.io.gfile.GFile(path) as f:
    entries = [line.rstrip('\n') for line in f]
  if entries in ([], [_EMPTY_VOCABULARY_PLACEHOLDER]):
    raise errors.DataError(f'the label vocabulary {path} is empty: no label of the train '
                           'split occurs often enough (see --min-label-count)')
  return entries
