"""Trainer's `run_fn`: fits the MLP, tunes its decision threshold, exports it.

Train split: fitting. Eval split: early stopping on validation loss (best weights
restored: the reference overfits after its first epoch) and the decision-threshold
search. The test split is left to the Evaluator.
"""

import json
import os
from typing import Any, Dict, List, Tuple

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
from components import settings as settings_lib

TRAINING_RECORD_FILE = 'training_record.json'
CURVES = ('loss', 'binary_accuracy', 'micro_f1')  # One PNG each, train vs validation.


def input_fn(file_pattern: List[str], data_accessor: tfx.components.DataAccessor,
             tf_transform_output: tft.TFTransformOutput, num_labels: int, batch_size: int,
             shuffle: bool, seed: int) -> tf.data.Dataset:
  """One pass over transformed examples as ({ids, weights}, multi-hot labels)."""
  dataset = data_accessor.tf_dataset_factory(
      file_pattern,
      tfxio.TensorFlowDatasetOptions(batch_size=batch_size, num_epochs=1, shuffle=shuffle,
                                     shuffle_seed=seed),
      tf_transform_output.transformed_metadata.schema)

  def split_label(batch):
    inputs = {key: batch[key] for key in (features.NGRAM_IDS_KEY, features.NGRAM_WEIGHTS_KEY)}
    return inputs, labels_lib.multi_hot(batch[features.LABEL_IDS_KEY], num_labels)

  return dataset.map(split_label, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
      tf.data.AUTOTUNE)


def run_fn(fn_args: tfx.components.FnArgs) -> None:
  """TFX Trainer entry point (GenericExecutor)."""
  settings = settings_lib.from_custom_config(settings_lib.TrainerSettings,
                                             fn_args.custom_config)
  tf_keras.utils.set_random_seed(settings.seed)
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
  label_names = labels_lib.read_vocabulary(
      tf_transform_output.vocabulary_file_by_name(features.LABEL_VOCABULARY))
  # Ids run from 0 to the vocabulary size, which is the out-of-vocabulary id.
  vocabulary_size = tf_transform_output.vocabulary_size_by_name(features.NGRAM_VOCABULARY) + 1

  def dataset(files, shuffle):
    return input_fn(files, fn_args.data_accessor, tf_transform_output, len(label_names),
                    settings.batch_size, shuffle, settings.seed)

  train_dataset = dataset(fn_args.train_files, shuffle=True)
  eval_dataset = dataset(fn_args.eval_files, shuffle=False)

  model = model_lib.build_model(vocabulary_size, len(label_names), settings.hidden_units,
                                settings.learning_rate)
  early_stopping = tf_keras.callbacks.EarlyStopping(
      monitor='val_loss', patience=settings.early_stopping_patience,
      restore_best_weights=True)
  history = model.fit(
      train_dataset, validation_data=eval_dataset, epochs=settings.max_epochs,
      verbose=2,  # One line per epoch: logs are files, not terminals.
      callbacks=[early_stopping,
                 tf_keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir)])

  eval_labels, eval_probabilities = predict_dataset(model, eval_dataset)
  threshold = metrics_lib.tune_global_threshold(eval_labels, eval_probabilities)
  record = {
      'history': history.history,
      'epochs_run': len(history.history['loss']),
      'best_epoch': int(np.argmin(history.history['val_loss'])) + 1,
      'vocabulary_size': vocabulary_size,
      'num_labels': len(label_names),
      'parameters': model.count_params(),
      'threshold': threshold,
      'eval_metrics': metrics_lib.classification_metrics(eval_labels, eval_probabilities,
                                                         threshold),
  }
  write_training_record(record, fn_args.model_run_dir)
  export.save(model, tf_transform_output, label_names, [threshold] * len(label_names),
              settings.top_k, fn_args.serving_model_dir)


def predict_dataset(model: tf_keras.Model,
                    dataset: tf.data.Dataset) -> Tuple[np.ndarray, np.ndarray]:
  """(multi-hot labels, probabilities) of every example in `dataset`."""
  labels, probabilities = [], []
  for inputs, batch_labels in dataset:
    labels.append(batch_labels.numpy())
    probabilities.append(model(inputs, training=False).numpy())
  return np.concatenate(labels), np.concatenate(probabilities)


def write_training_record(record: Dict[str, Any], directory: str) -> None:
  """Writes the history and threshold as JSON and the reference's curves as PNG."""
  tf.io.gfile.makedirs(directory)
  with tf.io.gfile.GFile(os.path.join(directory, TRAINING_RECORD_FILE), 'w') as f:
    json.dump(record, f, indent=2, default=float)
  history = record['history']
  epochs = range(1, len(history['loss']) + 1)
  for metric in CURVES:
    figure, axes = pyplot.subplots(figsize=(6, 4))
    axes.plot(epochs, history[metric], marker='o', label=metric)
    axes.plot(epochs, history[f'val_{metric}'], marker='o', label=f'val_{metric}')
    axes.set(xlabel='Epochs', ylabel=metric,
             title=f'Train and Validation {metric} Over Epochs')
    axes.legend()
    axes.grid(True)
    with tf.io.gfile.GFile(os.path.join(directory, f'{metric}.png'), 'wb') as f:
      figure.savefig(f, format='png', dpi=100, bbox_inches='tight')
    pyplot.close(figure)
