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
    vectors = tf.gather(self.kernel, ids.values) * tf.expand_dims(weights.values, 1)
    # Summing by row keeps empty abstracts as rows of zeros (then the bias).
    summed = tf.math.unsorted_segment_sum(vectors, ids.indices[:, 0], ids.dense_shape[0])
    return summed + self.bias

  def get_config(self):
    return {**super().get_config(), 'vocabulary_size': self.vocabulary_size,
            'units': self.units}


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
      optimizer=tf_keras.optimizers.Adam(learning_rate),
      loss='binary_crossentropy',
      metrics=[
          tf_keras.metrics.BinaryAccuracy(name='binary_accuracy'),
          tf_keras.metrics.F1Score(average='micro', threshold=0.5, name='micro_f1'),
      ])
  return model
