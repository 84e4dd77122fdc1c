"""Trainer's `run_fn`: fits the MLP, tunes its decision thresholds, exports it.

Train split: fitting. Eval split: early stopping (best weights restored: the
reference overfits after its first epoch), with monthly spans the label mix the
model is adapted to (eval is the newest labelled month), and the decision-threshold
search. The test split is left to the Evaluator.
"""

import dataclasses
import gc
import hashlib
import logging
import os
import time
from typing import Dict, List, Optional, Tuple

import matplotlib

matplotlib.use('Agg')  # Headless: the curves are written to files.
from matplotlib import pyplot  # pylint: disable=g-import-not-at-top
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

from components import export
from components import features
from components import labels as labels_lib
from components import metrics as metrics_lib
from components import model as model_lib
from components import run_records
from components import settings as settings_lib

_READ_BATCH_SIZE = 4096
_PREDICT_BATCH_SIZE = 4096


@dataclasses.dataclass(frozen=True)
class InMemorySplit:
  """A transformed split held in memory: each epoch then costs no parsing."""
  ngram_ids: tf.RaggedTensor  # [examples, n-grams]
  ngram_weights: tf.RaggedTensor
  labels: tf.Tensor  # [examples, labels] multi-hot
  spans: np.ndarray  # [examples] span numbers, -1 without spans

  @property
  def size(self) -> int:
    return int(self.labels.shape[0])


def load_split(file_pattern: List[str], data_accessor: tfx.components.DataAccessor,
               tf_transform_output: tft.TFTransformOutput, num_labels: int) -> InMemorySplit:
  """Reads a split of transformed examples once, in a canonical order.

  Each batch becomes compact arrays at once (its n-grams' ids and weights, each
  example's n-gram count, its labels), and the split is assembled once, already in
  order. Keeping the batches as TensorFlow's sparse and ragged tensors, then
  concatenating and reordering them, held about five times the split's size at its
  peak (docs/quality.md, the scale benchmark).
  """
  dataset = data_accessor.tf_dataset_factory(
      file_pattern,
      tfxio.TensorFlowDatasetOptions(batch_size=_READ_BATCH_SIZE, num_epochs=1, shuffle=False),
      tf_transform_output.transformed_metadata.schema)
  ids, weights, lengths, labels, spans = [], [], [], [], []
  for batch in dataset:
    # Parsed VarLen features come row by row: the values of row r precede row r + 1's,
    # and each n-gram id has its weight at the same position.
    ngram_ids = batch[features.NGRAM_IDS_KEY]
    ids.append(ngram_ids.values.numpy())
    weights.append(batch[features.NGRAM_WEIGHTS_KEY].values.numpy())
    lengths.append(np.bincount(ngram_ids.indices.numpy()[:, 0],
                               minlength=int(ngram_ids.dense_shape[0])))
    labels.append(labels_lib.multi_hot(batch[features.LABEL_IDS_KEY], num_labels).numpy())
    spans.append(np.reshape(batch[features.SPAN_KEY].numpy(), [-1]))
  split = [np.concatenate(parts) for parts in (ids, weights, lengths, labels, spans)]
  del ids, weights, lengths, labels, spans  # The batches' arrays, before sorting.
  return in_canonical_order(*split)


def in_canonical_order(ids: np.ndarray, weights: np.ndarray, lengths: np.ndarray,
                       labels: np.ndarray, spans: np.ndarray) -> InMemorySplit:
  """The split (flat n-gram ids and weights, n-grams per example, labels, spans) as an
  InMemorySplit sorted by a fingerprint of each example's content.

  ExampleGen's files hold the same examples from run to run but in an order Beam does
  not fix, and the seeded shuffle permutes whatever order it is given: sorted first,
  the same examples train the same model. Examples with equal fingerprints are equal
  (up to a 128-bit hash collision), so their relative order does not matter.
  """
  ends = np.cumsum(lengths)
  starts = ends - lengths
  # The row's length leads its bytes, so no two different examples give the same bytes.
  keys = np.array([
      hashlib.blake2b(b''.join((
          np.int64(end - start).tobytes(), ids[start:end].tobytes(),
          weights[start:end].tobytes(), labels[row].tobytes(), spans[row].tobytes())),
                      digest_size=16).digest()
      for row, (start, end) in enumerate(zip(starts, ends))], dtype='S16')
  order = np.argsort(keys, kind='stable')
  del keys
  # Row by row into arrays of the final size: an index of every n-gram's position
  # would itself be as large as the ids.
  sorted_ids, sorted_weights = np.empty_like(ids), np.empty_like(weights)
  position = 0
  for row in order:
    start, end = starts[row], ends[row]
    sorted_ids[position:position + end - start] = ids[start:end]
    sorted_weights[position:position + end - start] = weights[start:end]
    position += end - start
  row_lengths = lengths[order]
  return InMemorySplit(tf.RaggedTensor.from_row_lengths(sorted_ids, row_lengths),
                       tf.RaggedTensor.from_row_lengths(sorted_weights, row_lengths),
                       tf.convert_to_tensor(labels[order]), spans[order])


def recency_weights(spans: np.ndarray, half_life_months: float) -> np.ndarray:
  """Per example, 0.5 ** (months before the newest span / half life), scaled to mean 1;
  all 1 without a half life or without spans (-1)."""
  spans = np.asarray(spans, np.float64)
  if not half_life_months or spans.size == 0 or spans.min() < 0:
    return np.ones(len(spans), np.float32)
  weights = 0.5 ** ((spans.max() - spans) / half_life_months)
  return (weights / weights.mean()).astype(np.float32)


def label_prior_shift(train_labels: np.ndarray, eval_labels: np.ndarray,
                      pseudo_count: float) -> np.ndarray:
  """Per label, logit(eval share) - logit(train share): added to a label's logit, it
  trades the training window's label mix for the newest month's (Saerens et al.'s
  prior correction, with the new priors observed rather than estimated). The eval
  share is smoothed toward the train share by `pseudo_count` pseudo-papers, so a
  label the small eval split happens to lack is damped, not silenced."""
  train_share = np.clip(np.mean(train_labels, axis=0, dtype=np.float64), 1e-6, 1 - 1e-6)
  eval_share = ((np.sum(eval_labels, axis=0, dtype=np.float64) + pseudo_count * train_share) /
                (len(eval_labels) + pseudo_count))
  eval_share = np.clip(eval_share, 1e-6, 1 - 1e-6)
  logit = lambda share: np.log(share / (1 - share))
  return (logit(eval_share) - logit(train_share)).astype(np.float32)


def batches(split: InMemorySplit, batch_size: int, shuffle: bool, seed: int,
            example_weights: Optional[np.ndarray] = None) -> tf.data.Dataset:
  """One pass over `split` as ({ids, weights}, multi-hot labels[, example weights]),
  reshuffled each pass."""
  indices = tf.data.Dataset.range(split.size)
  if shuffle:
    indices = indices.shuffle(split.size, seed=seed, reshuffle_each_iteration=True)

  def gather(batch_indices):
    inputs = {
        features.NGRAM_IDS_KEY: tf.gather(split.ngram_ids, batch_indices).to_sparse(),
        features.NGRAM_WEIGHTS_KEY: tf.gather(split.ngram_weights, batch_indices).to_sparse(),
    }
    if example_weights is None:
      return inputs, tf.gather(split.labels, batch_indices)
    return inputs, tf.gather(split.labels, batch_indices), tf.gather(
        example_weights, batch_indices)

  # Fixed parallelism, no autotuning: dropping an epoch's iterator waits for
  # tf.data's autotuning thread, which stalls the next epoch's start once several
  # epochs have run (docs/performance_history.md). Two batches being gathered and
  # one ready: no training step waits for its input.
  options = tf.data.Options()
  options.autotune.enabled = False
  return indices.batch(batch_size).map(gather, num_parallel_calls=2).prefetch(1).with_options(
      options)


class TrainingTimer(tf_keras.callbacks.Callback):
  """Adds `train_seconds` to each epoch's logs: the pass over train, not validation."""

  def on_epoch_begin(self, epoch, logs=None):
    self._started = time.monotonic()
    self._seconds = None

  def on_test_begin(self, logs=None):
    if self._seconds is None:  # Validation starts once the training batches are done.
      self._seconds = time.monotonic() - self._started

  def on_epoch_end(self, epoch, logs=None):
    logs['train_seconds'] = self._seconds or time.monotonic() - self._started


class EarlyStoppingInMemory(tf_keras.callbacks.EarlyStopping):
  """Keras' EarlyStopping with the best epoch's weights restored, copied in memory.

  Keras' own `restore_best_weights` copies every weight into numpy at each improvement
  (twice after the first epoch) and back once training ends, even when the last epoch
  was the best: with a table of hundreds of megabytes those copies add up over a run.
  Here each is a tensor copy, several times cheaper, and the last epoch's weights
  stay when it was the best.
  """

  def __init__(self, **kwargs):
    super().__init__(restore_best_weights=False, **kwargs)

  def on_train_begin(self, logs=None):
    super().on_train_begin(logs)
    self._best_weights = None
    self._last_epoch = -1

  def on_epoch_end(self, epoch, logs=None):
    super().on_epoch_end(epoch, logs)
    self._last_epoch = epoch
    if epoch >= self.start_from_epoch and self.best_epoch == epoch:
      self._best_weights = [_copy(weight) for weight in self.model.weights]

  def on_train_end(self, logs=None):
    super().on_train_end(logs)
    if self._best_weights is not None and self.best_epoch != self._last_epoch:
      for weight, best in zip(self.model.weights, self._best_weights):
        weight.assign(best)


def _copy(variable: tf.Variable) -> tf.Tensor:
  """The variable's value in a buffer of its own: a plain read may share the
  variable's buffer, which the next update would then have to copy."""
  return tf.raw_ops.DeepCopy(x=variable.read_value())


class EpochProgress(tf_keras.callbacks.Callback):
  """Logs each epoch's figures as a progress record: the live line of a quiet run."""

  def __init__(self, max_epochs: int, prefix: str = ''):
    super().__init__()
    self.max_epochs = max_epochs
    self.prefix = prefix  # Which ensemble member, when there are several.
    self.best = (0.0, 0)  # (val micro-F1, epoch)

  def on_epoch_end(self, epoch, logs=None):
    logs = logs or {}
    score = float(logs.get('val_micro_f1', 0.0))
    self.best = max(self.best, (score, epoch + 1))
    # Short enough for an 80-column terminal beside the spinner and the elapsed time.
    logging.getLogger(features.PROGRESS_LOGGER).info(
        '%sepoch %d/%d, eval micro-F1 %.3f, best %.3f (epoch %d)', self.prefix, epoch + 1,
        self.max_epochs, score, *self.best, extra={'progress': True})


def run_fn(fn_args: tfx.components.FnArgs) -> None:
  """TFX Trainer entry point (GenericExecutor)."""
  settings = settings_lib.from_custom_config(settings_lib.TrainerSettings,
                                             fn_args.custom_config)
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
  label_names = labels_lib.read_vocabulary(
      tf_transform_output.vocabulary_file_by_name(features.LABEL_VOCABULARY))
  # Ids run from 0 to the vocabulary size, which is the out-of-vocabulary id.
  vocabulary_size = tf_transform_output.vocabulary_size_by_name(features.NGRAM_VOCABULARY) + 1

  train_split, eval_split = (
      load_split(files, fn_args.data_accessor, tf_transform_output, len(label_names))
      for files in (fn_args.train_files, fn_args.eval_files))
  example_weights = recency_weights(train_split.spans, settings.recency_half_life_months)
  eval_dataset = batches(eval_split, _PREDICT_BATCH_SIZE, shuffle=False, seed=settings.seed)
  positive_weights = model_lib.rare_label_weights(
      train_split.labels.numpy().mean(axis=0), settings.rare_label_frequency,
      settings.rare_label_weight_power)
  # Only a temporal split has a newer label mix to adapt to (eval's spans are set);
  # a random split's eval shares train's mix, up to noise.
  prior_shift = np.zeros(len(label_names), np.float32)
  if settings.adapt_label_prior and eval_split.size and eval_split.spans.min() >= 0:
    prior_shift = label_prior_shift(train_split.labels.numpy(), eval_split.labels.numpy(),
                                    settings.label_prior_pseudo_count)

  # Member k is the MLP a single training with seed `seed + k` gives, so the
  # backtest's seeds averaged (`make backtest --seeds`) are what this exports; the
  # linear member, if any, comes last.
  architectures = [settings.hidden_units] * settings.ensemble_members
  weights = None
  if settings.linear_member:
    architectures.append(())
    rare = train_split.labels.numpy().mean(axis=0) < settings.rare_label_frequency
    linear = np.where(rare, settings.linear_rare_label_weight, settings.linear_weight)
    weights = np.stack([(1 - linear) / settings.ensemble_members] * settings.ensemble_members +
                       [linear])
  members, trainings = [], []
  for member, hidden_units in enumerate(architectures):
    model, training = fit_member(
        settings, member, len(architectures), hidden_units, train_split, eval_dataset,
        example_weights, vocabulary_size, positive_weights, fn_args.model_run_dir)
    model_lib.shift_output_logits(model, prior_shift)
    members.append(model)
    trainings.append(training)
    gc.collect()  # Keras models hold cycles: frees the optimizer's state before the next.
  model = model_lib.average_models(members, weights)

  eval_labels, eval_probabilities = predict_dataset(model, eval_dataset)
  # One threshold for all labels (best micro-F1), on the members' average; with
  # `per_label_thresholds`, one per label where the eval split has enough positives
  # of it (see settings).
  threshold = metrics_lib.tune_global_threshold(eval_labels, eval_probabilities)
  thresholds = np.full(len(label_names), threshold, np.float32)
  if settings.per_label_thresholds:
    thresholds = metrics_lib.tune_label_thresholds(
        eval_labels, eval_probabilities, threshold, settings.label_threshold_min_positives,
        settings.label_threshold_shrinkage)
  record = run_records.TrainingRecord(
      members=trainings,
      vocabulary_size=vocabulary_size,
      num_labels=len(label_names),
      parameters=model.count_params(),
      positive_weights=dict(zip(label_names, positive_weights.tolist())),
      recency_weights={str(span): float(weight) for span, weight in sorted(
          dict(zip(train_split.spans.tolist(), example_weights.tolist())).items())},
      label_prior_shift=dict(zip(label_names, prior_shift.tolist())),
      threshold=threshold,
      label_thresholds=dict(zip(label_names, thresholds.tolist())),
      eval_metrics=metrics_lib.classification_metrics(eval_labels, eval_probabilities,
                                                      thresholds))
  record.write(fn_args.model_run_dir)
  plot_curves(trainings[0].history, fn_args.model_run_dir)
  # What a model that never reads the abstract scores: the Evaluator's baseline.
  label_priors = metrics_lib.label_prior_baseline(
      train_split.labels.numpy().mean(axis=0), eval_split.labels.numpy().sum(axis=0),
      eval_split.size)
  export.save(model, tf_transform_output, label_names, thresholds.tolist(), label_priors,
              settings, fn_args.serving_model_dir)


def fit_member(settings: settings_lib.TrainerSettings, member: int, members: int,
               hidden_units: Tuple[int, ...], train_split: InMemorySplit,
               eval_dataset: tf.data.Dataset, example_weights: np.ndarray,
               vocabulary_size: int, positive_weights: np.ndarray, model_run_dir: str
               ) -> Tuple[tf_keras.Model, run_records.MemberTraining]:
  """Trains ensemble member `member` (0-based, of `members`) from seed `settings.seed +
  member`, with early stopping on eval; returns the model with its best epoch's
  weights. No `hidden_units`: the linear member, with its own table learning rate."""
  seed = settings.seed + member
  tf_keras.utils.set_random_seed(seed)
  train_dataset = batches(
      train_split, settings.train_batch_size(train_split.size), shuffle=True, seed=seed,
      example_weights=None if np.all(example_weights == 1) else tf.constant(example_weights))
  model = model_lib.build_model(
      vocabulary_size, hidden_units, settings.learning_rate,
      settings.table_learning_rate if hidden_units else settings.linear_table_learning_rate,
      settings.dropout, settings.ngram_dropout, positive_weights)
  early_stopping = EarlyStoppingInMemory(
      monitor=settings.early_stopping_monitor, patience=settings.early_stopping_patience,
      mode='min' if settings.early_stopping_monitor == 'val_loss' else 'max',
      start_from_epoch=min(settings.min_epochs, settings.max_epochs) - 1)
  # The first member's TensorBoard logs where a single model's go; the others' beside.
  log_dir = model_run_dir if member == 0 else os.path.join(model_run_dir, f'member_{member + 1}')
  history = model.fit(
      train_dataset, validation_data=eval_dataset, epochs=settings.max_epochs,
      verbose=2,  # One line per epoch: logs are files, not terminals.
      callbacks=[TrainingTimer(), early_stopping,
                 EpochProgress(settings.max_epochs,
                               f'model {member + 1}/{members}'
                               f'{"" if hidden_units else " (linear)"}, ' if members > 1 else ''),
                 tf_keras.callbacks.TensorBoard(log_dir=log_dir)])
  # The optimizer's state (as large as the n-gram table) goes with the compiled model.
  return model_lib.without_training_state(model), run_records.MemberTraining(
      seed=seed, history=history.history, epochs_run=len(history.history['loss']),
      best_epoch=int(early_stopping.best_epoch) + 1)


def predict_dataset(model: tf_keras.Model,
                    dataset: tf.data.Dataset) -> Tuple[np.ndarray, np.ndarray]:
  """(multi-hot labels, probabilities) of every example in `dataset`."""
  labels, probabilities = [], []
  for inputs, batch_labels in dataset:
    labels.append(batch_labels.numpy())
    probabilities.append(model(inputs, training=False).numpy())
  return np.concatenate(labels), np.concatenate(probabilities)


def plot_curves(history: Dict[str, List[float]], directory: str) -> None:
  """Draws the reference's curves, train against validation, as PNGs in `directory`."""
  epochs = range(1, len(history['loss']) + 1)
  for metric in run_records.CURVES:
    figure, axes = pyplot.subplots(figsize=(6, 4))
    axes.plot(epochs, history[metric], marker='o', label=metric)
    axes.plot(epochs, history[f'val_{metric}'], marker='o', label=f'val_{metric}')
    axes.set(xlabel='Epochs', ylabel=metric,
             title=f'Train and Validation {metric} Over Epochs')
    axes.legend()
    axes.grid(True)
    with tf.io.gfile.GFile(run_records.curve_path(directory, metric), 'wb') as f:
      figure.savefig(f, format='png', dpi=100, bbox_inches='tight')
    pyplot.close(figure)
