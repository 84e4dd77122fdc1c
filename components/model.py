"""The reference's shallow MLP, fed the TF-IDF vector in sparse form.

Reference: TF-IDF vector -> Dense 512 relu -> Dense 256 relu -> sigmoid per label,
binary cross-entropy, Adam. The first Dense layer here is `TfidfDense`: the same
affine map, computed from the non-zero n-grams of each abstract (a TF-IDF-weighted
embedding bag), so its cost follows the abstract's length, not the vocabulary's.
Its ~100M-parameter table is trained by sparse Adagrad on the rows a batch touches,
the rest by Adam (`AdamWithSparseAdagrad`). Regularized by dropout of input n-grams
(`NgramDropout`) and between the hidden layers. The cross-entropy weighs the
positives of rare labels up (`WeightedBinaryCrossentropy`), else the model learns
to never predict them.
"""

import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tf_keras

from components import features

_CORES = max(1, min(os.cpu_count() or 1, 8))
TABLE_LAYER = 'tfidf_dense'  # The TfidfDense layer: the n-gram table.


def sorted_unique(ids: tf.Tensor, id_count: int) -> Tuple[tf.Tensor, tf.Tensor]:
  """`tf.unique` for ids in [0, id_count), the unique ids in ascending order.

  A full-size batch holds about a million n-gram ids, most of the vocabulary: marking
  the ids present in a vector of id_count flags and numbering them by a running count
  costs a few passes over memory, where tf.unique's hash table handles each id on one
  core in every training step. Ascending ids also make the row gather
  and the optimizer's row updates walk the table in order. An id outside the range
  fails the gather, as tf.gather of the kernel would.
  """
  present = tf.math.bincount(tf.cast(ids, tf.int32), minlength=id_count,
                             maxlength=id_count, dtype=tf.int32) > 0
  unique_ids = tf.where(present)[:, 0]
  rank = tf.cumsum(tf.cast(present, tf.int32), exclusive=True)
  return unique_ids, tf.gather(rank, ids)


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
    unique_ids, position = sorted_unique(ids.values, self.vocabulary_size)
    rows = tf.gather(self.kernel, unique_ids)
    example = ids.indices[:, 0]
    position = tf.cast(position, tf.int64)
    batch_size = ids.dense_shape[0]
    columns = tf.cast(tf.size(unique_ids), tf.int64)
    # sparse_dense_matmul runs on one thread: a slice of the batch per core lets all
    # cores work, forward and backward (TensorFlow runs independent ops in parallel).
    slice_size = (batch_size + _CORES - 1) // _CORES
    outputs = []
    for index in range(_CORES):
      first_example = index * slice_size
      in_slice = tf.equal(example // slice_size, index)
      outputs.append(tf.sparse.sparse_dense_matmul(
          tf.SparseTensor(
              tf.stack([tf.boolean_mask(example, in_slice) - first_example,
                        tf.boolean_mask(position, in_slice)], axis=1),
              tf.boolean_mask(weights.values, in_slice),
              tf.stack([tf.clip_by_value(batch_size - first_example, 0, slice_size), columns])),
          rows))
    return tf.concat(outputs, axis=0) + self.bias

  def get_config(self):
    return {**super().get_config(), 'vocabulary_size': self.vocabulary_size,
            'units': self.units}


@tf_keras.utils.register_keras_serializable(package='arxiv')
class NgramDropout(tf_keras.layers.Layer):
  """In training, drops each n-gram of an abstract with probability `rate`.

  The survivors' weights are scaled by 1 / (1 - rate), so the expected input is
  unchanged; at inference the input passes through. Dropped n-grams are removed, not
  zeroed, so their table rows are neither read nor updated.
  """

  def __init__(self, rate: float, **kwargs):
    super().__init__(**kwargs)
    self.rate = rate

  def call(self, inputs, training=None):
    ids, weights = inputs
    if not training or not self.rate:
      return ids, weights
    kept = tf.random.uniform(tf.shape(ids.values)) >= self.rate
    scaled = tf.SparseTensor(weights.indices, weights.values / (1.0 - self.rate),
                             weights.dense_shape)
    return tf.sparse.retain(ids, kept), tf.sparse.retain(scaled, kept)

  def get_config(self):
    return {**super().get_config(), 'rate': self.rate}


@tf_keras.utils.register_keras_serializable(package='arxiv')
class WeightedBinaryCrossentropy(tf_keras.losses.Loss):
  """Binary cross-entropy on probabilities, each label's positive term weighted.

  With every weight 1 this is Keras' binary cross-entropy (mean over labels).
  """

  def __init__(self, positive_weights: Sequence[float],
               name: str = 'weighted_binary_crossentropy', **kwargs):
    super().__init__(name=name, **kwargs)
    self.positive_weights = [float(w) for w in positive_weights]

  def call(self, y_true, y_pred):
    epsilon = tf_keras.backend.epsilon()
    y_pred = tf.clip_by_value(y_pred, epsilon, 1 - epsilon)
    y_true = tf.cast(y_true, y_pred.dtype)
    return -tf.reduce_mean(
        tf.constant(self.positive_weights, y_pred.dtype) * y_true * tf.math.log(y_pred) +
        (1 - y_true) * tf.math.log(1 - y_pred), axis=-1)

  def get_config(self):
    return {**super().get_config(), 'positive_weights': self.positive_weights}


def rare_label_weights(label_frequencies: np.ndarray, rare_frequency: float,
                       power: float) -> np.ndarray:
  """Positive-example weights: (rare_frequency / frequency) ** power for the labels
  rarer than `rare_frequency`, 1 for the others (so the frequent labels, which make
  up most decisions and micro-F1, train as before)."""
  frequencies = np.maximum(np.asarray(label_frequencies, np.float64), 1e-12)
  return np.maximum(1.0, rare_frequency / frequencies) ** power


@tf_keras.utils.register_keras_serializable(package='arxiv')
class AdamWithSparseAdagrad(tf_keras.optimizers.Optimizer):
  """Adam for the dense layers, fused sparse Adagrad for the TF-IDF table.

  The table has ~100 million parameters and a batch touches a few percent of its
  rows. Keras' Adam rewrites the whole table (and its two moments) on every step;
  Adagrad's state is one accumulator, and TensorFlow's fused
  ResourceSparseApplyAdagradV2 updates just the touched rows in one pass. A tiny
  initial accumulator makes the first steps about as large as Adam's. Variables
  whose name contains one of `sparse_variables` get Adagrad; their gradients must be
  IndexedSlices with unique indices, as TfidfDense's are.
  """

  def __init__(self, learning_rate: float = 1e-3, sparse_learning_rate: float = 0.01,
               beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
               initial_accumulator_value: float = 1e-6,
               sparse_variables: Sequence[str] = (TABLE_LAYER + '/kernel',),
               weight_decay: Optional[float] = None,
               name: str = 'AdamWithSparseAdagrad', **kwargs):
    # tf_keras' base Optimizer defaults weight_decay to 0, not None, and then applies
    # it every step: `table.assign_sub(table * 0 * lr)` read, copied (a variable that
    # sparse ops touch is copied on every read) and rewrote the whole table, a large
    # share of each step. None skips it, as Keras' own Adam does.
    super().__init__(name=name, weight_decay=weight_decay, **kwargs)
    self._learning_rate = self._build_learning_rate(learning_rate)
    self.sparse_learning_rate = sparse_learning_rate
    self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
    self.initial_accumulator_value = initial_accumulator_value
    self.sparse_variables = tuple(sparse_variables)

  def _is_sparse(self, variable) -> bool:
    return any(name in variable.name for name in self.sparse_variables)

  def build(self, var_list):
    super().build(var_list)
    if getattr(self, '_built', False):
      return
    self._built = True
    # One slot list per kind, aligned with var_list; the other kind's entry is None.
    self._momentums, self._velocities, self._accumulators = [], [], []
    for variable in var_list:
      sparse = self._is_sparse(variable)
      self._accumulators.append(self.add_variable_from_reference(
          variable, 'accumulator',
          initial_value=tf.fill(variable.shape, self.initial_accumulator_value))
                                if sparse else None)
      self._momentums.append(None if sparse else
                             self.add_variable_from_reference(variable, 'm'))
      self._velocities.append(None if sparse else
                              self.add_variable_from_reference(variable, 'v'))

  def update_step(self, gradient, variable):
    index = self._index_dict[self._var_key(variable)]
    dtype = variable.dtype
    if self._accumulators[index] is not None:
      tf.raw_ops.ResourceSparseApplyAdagradV2(
          var=variable.handle, accum=self._accumulators[index].handle,
          lr=tf.cast(self.sparse_learning_rate, dtype), epsilon=tf.cast(self.epsilon, dtype),
          grad=gradient.values, indices=gradient.indices)
      return
    step = tf.cast(self.iterations + 1, dtype)
    beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
    alpha = (tf.cast(self.learning_rate, dtype) * tf.sqrt(1 - tf.pow(beta_2, step)) /
             (1 - tf.pow(beta_1, step)))
    m, v = self._momentums[index], self._velocities[index]
    m.assign_add((gradient - m) * (1 - beta_1))
    v.assign_add((tf.square(gradient) - v) * (1 - beta_2))
    variable.assign_sub(m * alpha / (tf.sqrt(v) + self.epsilon))

  def get_config(self):
    return {**super().get_config(),
            'learning_rate': self._serialize_hyperparameter(self._learning_rate),
            'sparse_learning_rate': self.sparse_learning_rate, 'beta_1': self.beta_1,
            'beta_2': self.beta_2, 'epsilon': self.epsilon,
            'initial_accumulator_value': self.initial_accumulator_value,
            'sparse_variables': self.sparse_variables}


@tf_keras.utils.register_keras_serializable(package='arxiv')
class ConvertlessModel(tf_keras.Model):
  """A functional Model whose calls and train / test / predict steps skip autograph.

  Autograph rewrites each Python function a tf.function calls, except in packages
  its list says are written for graphs: the list names `keras` but not `tf_keras`,
  so the first training step spent most of its time transpiling some 1,000 tf_keras
  functions, and each save traced the model through it again. Keras' code needs no
  rewriting, nor do this module's layers: their Python control flow depends on
  settings, never on tensors.
  """
  __call__ = tf.autograph.experimental.do_not_convert(tf_keras.Model.__call__)
  train_step = tf.autograph.experimental.do_not_convert(tf_keras.Model.train_step)
  test_step = tf.autograph.experimental.do_not_convert(tf_keras.Model.test_step)
  predict_step = tf.autograph.experimental.do_not_convert(tf_keras.Model.predict_step)


def logit_bias(model: tf_keras.Model) -> tf.Variable:
  """Each label's logit bias: the sigmoid layer's, or a linear model's table's (its
  sigmoid layer has no weights: the table's output is the logits)."""
  output = model.get_layer(features.PROBABILITIES_KEY)
  if isinstance(output, tf_keras.layers.Dense):
    return output.bias
  return model.get_layer(TABLE_LAYER).bias


def shift_output_logits(model: tf_keras.Model, shift: Sequence[float]) -> None:
  """Adds `shift` to each label's logit bias, so the exported model carries it and
  serving needs nothing new."""
  bias = logit_bias(model)
  bias.assign_add(tf.constant(shift, bias.dtype))


def model_inputs() -> Dict[str, tf_keras.Input]:
  """The model's inputs: a paper's n-gram ids and their TF-IDF weights, sparse."""
  return {
      features.NGRAM_IDS_KEY: tf_keras.Input(shape=(None,), sparse=True, dtype=tf.int64,
                                             name=features.NGRAM_IDS_KEY),
      features.NGRAM_WEIGHTS_KEY: tf_keras.Input(shape=(None,), sparse=True, dtype=tf.float32,
                                                 name=features.NGRAM_WEIGHTS_KEY),
  }


@tf_keras.utils.register_keras_serializable(package='arxiv')
class WeightedAverage(tf_keras.layers.Layer):
  """Per label, sum_i member_weights[i][label] * inputs[i]: [members, labels] weights
  (or [members, 1], one per member), each label's adding up to 1."""

  def __init__(self, member_weights: Sequence[Sequence[float]], **kwargs):
    super().__init__(**kwargs)
    self.member_weights = [[float(weight) for weight in row] for row in member_weights]

  def call(self, inputs):
    return tf.add_n([tf.constant(weights, member.dtype) * member
                     for weights, member in zip(self.member_weights, inputs)])

  def get_config(self):
    return {**super().get_config(), 'member_weights': self.member_weights}


def average_models(members: Sequence[tf_keras.Model],
                   weights: Optional[np.ndarray] = None) -> tf_keras.Model:
  """One model whose probabilities are the members' averaged with `weights`: one per
  member ([members]) or per member and label ([members, labels]), normalized to add
  up to 1 per label; by default all alike. One member is returned as it is. Serving,
  TFMA and the threshold search then see one model."""
  if len(members) == 1:
    return members[0]
  weights = np.ones(len(members)) if weights is None else np.asarray(weights, np.float64)
  weights = weights.reshape(len(weights), -1)
  if len(weights) != len(members) or weights.min() < 0 or weights.sum(axis=0).min() <= 0:
    raise ValueError(f'{len(members)} members need as many rows of non-negative weights, '
                     f'each label\'s adding up to more than 0, got {weights.tolist()}')
  inputs = model_inputs()
  probabilities = WeightedAverage((weights / weights.sum(axis=0)).tolist(),
                                  name=features.PROBABILITIES_KEY)(
      [member(inputs) for member in members])
  return ConvertlessModel(inputs=inputs, outputs=probabilities, name='ensemble')


def without_training_state(model: tf_keras.Model) -> tf_keras.Model:
  """The trained network `model` holds, as a model of its own that is not compiled.

  The compiled model keeps its optimizer's state: for the n-gram table, an Adagrad
  accumulator as large as the table. Nothing after training reads it, yet a saved
  model carried it (twice the table on disk) and each ensemble member kept its own
  in memory while the next trained. The new model shares the layers (no copy of the
  weights); once the compiled one is dropped, its optimizer state is freed.
  """
  return ConvertlessModel(inputs=model.input, outputs=model.output, name=model.name)


def members_of(model: tf_keras.Model) -> List[Tuple[tf_keras.Model, np.ndarray]]:
  """The models `average_models` averaged into `model`, each with its weights ([1] or
  [labels]); a single model alone, with weight 1."""
  # Only this module's models: export tracks tf.Transform's layer (a Keras model) too.
  members = [layer for layer in model.layers if isinstance(layer, ConvertlessModel)]
  if not members:
    return [(model, np.ones(1, np.float32))]
  weights = model.get_layer(features.PROBABILITIES_KEY).member_weights
  return [(member, np.asarray(row, np.float32)) for member, row in zip(members, weights)]


def build_model(vocabulary_size: int, hidden_units: Sequence[int], learning_rate: float,
                table_learning_rate: float, dropout: float, ngram_dropout: float,
                positive_weights: Sequence[float]) -> tf_keras.Model:
  """The compiled MLP: sparse (ids, weights) inputs -> one probability per label
  (one label per entry of `positive_weights`). Without hidden units, a linear model:
  the table maps the TF-IDF vector straight to the labels' logits (a logistic
  regression per label), trained the same way."""
  inputs = model_inputs()
  ids, weights = inputs[features.NGRAM_IDS_KEY], inputs[features.NGRAM_WEIGHTS_KEY]
  kept = NgramDropout(ngram_dropout)([ids, weights])
  if hidden_units:
    first, *rest = hidden_units
    hidden = tf_keras.layers.ReLU()(TfidfDense(vocabulary_size, first, name=TABLE_LAYER)(kept))
    for units in rest:
      hidden = tf_keras.layers.Dropout(dropout)(hidden)
      hidden = tf_keras.layers.Dense(units, activation='relu')(hidden)
    hidden = tf_keras.layers.Dropout(dropout)(hidden)
    probabilities = tf_keras.layers.Dense(len(positive_weights), activation='sigmoid',
                                          name=features.PROBABILITIES_KEY)(hidden)
  else:
    logits = TfidfDense(vocabulary_size, len(positive_weights), name=TABLE_LAYER)(kept)
    probabilities = tf_keras.layers.Activation('sigmoid', name=features.PROBABILITIES_KEY)(logits)
  model = ConvertlessModel(inputs=inputs, outputs=probabilities)
  model.compile(
      optimizer=AdamWithSparseAdagrad(learning_rate, table_learning_rate),
      loss=WeightedBinaryCrossentropy(positive_weights),
      metrics=[
          tf_keras.metrics.BinaryAccuracy(name='binary_accuracy'),
          tf_keras.metrics.F1Score(average='micro', threshold=0.5, name='micro_f1'),
      ])
  return model
