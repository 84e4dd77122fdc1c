"""The MLP: its shapes, and TfidfDense as the reference's Dense on a sparse vector."""

import numpy as np
import tensorflow as tf

from components import features
from components import model as model_lib


def _batch():
  ids = tf.SparseTensor([[0, 0], [0, 1], [2, 0]], tf.constant([1, 7, 2], tf.int64), [3, 2])
  weights = tf.SparseTensor([[0, 0], [0, 1], [2, 0]], [0.5, 0.25, 1.0], [3, 2])
  return {features.NGRAM_IDS_KEY: ids, features.NGRAM_WEIGHTS_KEY: weights}


def test_model_maps_a_batch_to_one_probability_per_label():
  model = model_lib.build_model(vocabulary_size=10, num_labels=4, hidden_units=(512, 256),
                                learning_rate=1e-3)
  assert [layer.units for layer in model.layers if hasattr(layer, 'units')] == [512, 256, 4]
  probabilities = model(_batch()).numpy()
  assert probabilities.shape == (3, 4)  # The empty second row still gets an output.
  assert ((probabilities > 0) & (probabilities < 1)).all()
  assert model.loss == 'binary_crossentropy'


def test_tfidf_dense_equals_dense_layer_on_the_tfidf_vector():
  layer = model_lib.TfidfDense(vocabulary_size=10, units=5)
  batch = _batch()
  sparse_output = layer([batch[features.NGRAM_IDS_KEY], batch[features.NGRAM_WEIGHTS_KEY]])
  dense_vector = np.zeros((3, 10), np.float32)
  dense_vector[0, 1], dense_vector[0, 7], dense_vector[2, 2] = 0.5, 0.25, 1.0
  np.testing.assert_allclose(sparse_output, dense_vector @ layer.kernel.numpy() +
                             layer.bias.numpy(), rtol=1e-6)


def test_tfidf_dense_gradient_touches_only_the_rows_present():
  layer = model_lib.TfidfDense(vocabulary_size=10, units=5)
  batch = _batch()
  with tf.GradientTape() as tape:
    output = layer([batch[features.NGRAM_IDS_KEY], batch[features.NGRAM_WEIGHTS_KEY]])
    loss = tf.reduce_sum(output)
  kernel_gradient = tape.gradient(loss, layer.kernel)
  assert isinstance(kernel_gradient, tf.IndexedSlices)
  assert sorted(kernel_gradient.indices.numpy()) == [1, 2, 7]
