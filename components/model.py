"""The reference's shallow MLP, fed the TF-IDF vector in sparse form.

Reference: TF-IDF vector -> Dense 512 relu -> Dense 256 relu -> sigmoid per label,
binary cross-entropy, Adam. The first Dense layer here is `TfidfDense`: the same
affine map, computed from the non-zero n-grams of each abstract (a TF-IDF-weighted
embedding bag), so its cost follows the abstract's length, not the vocabulary's.
"""

from typing import Sequence

import tensorflow as tf
import tf_keras

from components import features


@tf_keras.utils.register_keras_serializable(package='arxiv')
class TfidfDense(tf_keras.layers.Layer):
  """Dense(units) applied to a sparse TF-IDF vector given as (ids, weights).

  Equal to `Dense(units)(tfidf_vector)` where tfidf_vector[id] = weight, but only
  the kernel rows of the n-grams present are read and receive gradients.
  """

  def __init__(self, vocabulary_size: int, units: int, **kwargs):
    super().__init__(**kwargs)
    self.vocabulary_size = vocabulary_size
    self.units = units

  def build(self, input_shape):
    self.kernel = self.add_weight(
        name='kernel', shape=(self.vocabulary_size, self.units),
        initializer='glorot_uniform')
    self.bias = self.add_weight(name='bias', shape=(self.units,), initializer='zeros')
    super().build(input_shape)

  def call(self, inputs):
    ids, weights = inputs
    # Each kernel row a batch uses is read once, however many abstracts use it, and
    # its gradient arrives as one row (an IndexedSlices with unique indices).
    unique_ids, position = tf.unique(ids.values)
    rows = tf.gather(self.kernel, unique_ids)
    batch_by_rows = tf.SparseTensor(
        tf.stack([ids.indices[:, 0], tf.cast(position, tf.int64)], axis=1), weights.values,
        tf.stack([ids.dense_shape[0], tf.cast(tf.size(unique_ids), tf.int64)]))
    return tf.sparse.sparse_dense_matmul(batch_by_rows, rows) + self.bias

  def get_config(self):
    return {**super().get_config(), 'vocabulary_size': self.vocabulary_size,
            'units': self.units}


@tf_keras.utils.register_keras_serializable(package='arxiv')
class LazyAdam(tf_keras.optimizers.Adam):
  """Adam that updates only the rows a sparse gradient touches.

  Keras' Adam decays the moments of a whole embedding table and rewrites every row
  of it on each step, even for a gradient of a few rows: for the TF-IDF layer that
  is ~100 million parameters per step. Here untouched rows keep their moments (as in
  TensorFlow Addons' LazyAdam); dense gradients get the usual update. Sparse
  gradients must have unique indices, as TfidfDense's have.
  """

  def update_step(self, gradient, variable):
    if not isinstance(gradient, tf.IndexedSlices):
      return super().update_step(gradient, variable)
    dtype = variable.dtype
    step = tf.cast(self.iterations + 1, dtype)
    beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
    alpha = (tf.cast(self.learning_rate, dtype) * tf.sqrt(1 - tf.pow(beta_2, step)) /
             (1 - tf.pow(beta_1, step)))
    index = self._index_dict[self._var_key(variable)]
    m, v = self._momentums[index], self._velocities[index]
    rows, values = gradient.indices, gradient.values
    m_rows = beta_1 * tf.gather(m, rows) + (1 - beta_1) * values
    v_rows = beta_2 * tf.gather(v, rows) + (1 - beta_2) * tf.square(values)
    m.scatter_update(tf.IndexedSlices(m_rows, rows))
    v.scatter_update(tf.IndexedSlices(v_rows, rows))
    variable.scatter_sub(tf.IndexedSlices(
        alpha * m_rows / (tf.sqrt(v_rows) + self.epsilon), rows))


def build_model(vocabulary_size: int, num_labels: int, hidden_units: Sequence[int],
                learning_rate: float) -> tf_keras.Model:
  """The compiled MLP: sparse (ids, weights) inputs -> one probability per label."""
  ids = tf_keras.Input(shape=(None,), sparse=True, dtype=tf.int64,
                       name=features.NGRAM_IDS_KEY)
  weights = tf_keras.Input(shape=(None,), sparse=True, dtype=tf.float32,
                           name=features.NGRAM_WEIGHTS_KEY)
  first, *rest = hidden_units
  hidden = TfidfDense(vocabulary_size, first, name='tfidf_dense')([ids, weights])
  hidden = tf_keras.layers.ReLU()(hidden)
  for units in rest:
    hidden = tf_keras.layers.Dense(units, activation='relu')(hidden)
  probabilities = tf_keras.layers.Dense(num_labels, activation='sigmoid',
                                        name=features.PROBABILITIES_KEY)(hidden)
  model = tf_keras.Model(inputs={features.NGRAM_IDS_KEY: ids,
                                 features.NGRAM_WEIGHTS_KEY: weights},
                         outputs=probabilities)
  model.compile(
      optimizer=LazyAdam(learning_rate),
      loss='binary_crossentropy',
      metrics=[
          tf_keras.metrics.BinaryAccuracy(name='binary_accuracy'),
          tf_keras.metrics.F1Score(average='micro', threshold=0.5, name='micro_f1'),
      ])
  return model
