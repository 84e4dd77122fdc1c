"""Multi-hot labels over the label vocabulary, and the inverse (multi-hot -> names).

Transform stores a paper's labels as vocabulary ids (a sparse row); these helpers
turn them into the dense multi-hot vector the model learns and back into names.
"""

from typing import List, Sequence

import numpy as np
import tensorflow as tf


def multi_hot(label_ids: tf.SparseTensor, num_labels: int) -> tf.Tensor:
  """[batch, ?] sparse label ids -> [batch, num_labels] float 0/1 vector."""
  rows = label_ids.indices[:, 0]
  positions = tf.stack([rows, tf.cast(label_ids.values, tf.int64)], axis=1)
  batch_size = tf.cast(label_ids.dense_shape[0], tf.int64)
  hot = tf.scatter_nd(positions, tf.ones_like(label_ids.values, tf.float32),
                      tf.stack([batch_size, tf.constant(num_labels, tf.int64)]))
  return tf.minimum(hot, 1.0)  # A repeated id still means one label.


def invert_multi_hot(encoded: np.ndarray, vocabulary: Sequence[str]) -> List[str]:
  """The reference's `invert_multi_hot`: names of the positions that are set."""
  return [vocabulary[i] for i in np.flatnonzero(np.asarray(encoded) >= 0.5)]


def read_vocabulary(path: str) -> List[str]:
  """Reads a tf.Transform vocabulary file: one entry per line, most frequent first."""
  with tf.io.gfile.GFile(path) as f:
    return [line.rstrip('\n') for line in f]
