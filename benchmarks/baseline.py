"""What a practitioner would otherwise pick, measured on the pipeline's own split.

- `logistic_regression`: TF-IDF over unigrams + bigrams and one-vs-rest logistic
  regression (scikit-learn), thresholds tuned on the eval split.
- `time_reference_epoch`: the reference's formulation, a dense TF-IDF vector into
  Dense 512 -> Dense 256 -> sigmoid with Adam at batch 128, timed over a fixed number
  of steps and extrapolated to one epoch (training it to the end is too slow).
"""

import time
from typing import Dict, List, Sequence, Tuple

import numpy as np

from components import labels as labels_lib
from components import metrics as metrics_lib
from components.example_gen.executor import ExamplePaper


def text_of(paper: ExamplePaper) -> str:
  return f'{paper.title}. {paper.abstract}'


def multi_hot(papers: Sequence[ExamplePaper], labels: Sequence[str]) -> np.ndarray:
  return labels_lib.names_to_multi_hot([paper.labels for paper in papers], labels)


def logistic_regression(train: List[ExamplePaper], eval_: List[ExamplePaper],
                        test: List[ExamplePaper],
                        labels: Sequence[str],
                        max_features: int) -> Tuple[Dict[str, float], np.ndarray, float]:
  """Fits TF-IDF + one-vs-rest logistic regression.

  Returns its test metrics and fit time, its test probabilities and its global
  threshold (the one its micro-F1 is scored at).
  """
  from sklearn.feature_extraction.text import TfidfVectorizer  # pylint: disable=g-import-not-at-top
  from sklearn.linear_model import LogisticRegression  # pylint: disable=g-import-not-at-top
  from sklearn.multiclass import OneVsRestClassifier  # pylint: disable=g-import-not-at-top

  started = time.monotonic()
  vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=max_features,
                               sublinear_tf=True, dtype=np.float32)
  train_x = vectorizer.fit_transform(text_of(p) for p in train)
  train_y = multi_hot(train, labels)
  # Labels without a positive in train cannot be fitted; they predict 0.
  fitted = train_y.sum(axis=0) > 0
  # The dual problem: with more n-grams than papers liblinear solves it faster, to
  # the same model.
  classifier = OneVsRestClassifier(
      LogisticRegression(C=10.0, solver='liblinear', dual=True, max_iter=200), n_jobs=2)
  classifier.fit(train_x, train_y[:, fitted])
  fit_seconds = time.monotonic() - started

  def probabilities(papers):
    scores = np.zeros((len(papers), len(labels)), np.float32)
    scores[:, fitted] = classifier.predict_proba(
        vectorizer.transform(text_of(p) for p in papers))
    return scores

  eval_y, eval_p = multi_hot(eval_, labels), probabilities(eval_)
  test_y, test_p = multi_hot(test, labels), probabilities(test)
  global_threshold = metrics_lib.tune_global_threshold(eval_y, eval_p)
  label_thresholds = metrics_lib.tune_label_thresholds(eval_y, eval_p, global_threshold)
  result = metrics_lib.classification_metrics(test_y, test_p, global_threshold)
  result['macro_f1_label_thresholds'] = metrics_lib.classification_metrics(
      test_y, test_p, label_thresholds)['macro_f1']
  result['fit_seconds'] = fit_seconds
  result['vocabulary_size'] = len(vectorizer.vocabulary_)
  return result, test_p, global_threshold


def reference_vocabulary_size(train: List[ExamplePaper]) -> int:
  """The reference's `max_tokens`: distinct lower-cased whitespace tokens of train."""
  vocabulary = set()
  for paper in train:
    vocabulary.update(paper.abstract.lower().split())
  return len(vocabulary)


def time_reference_epoch(vocabulary_size: int, num_labels: int, train_rows: int,
                         steps: int = 20, batch_size: int = 128) -> Dict[str, float]:
  """Seconds per epoch of the reference's dense formulation, from `steps` timed steps."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tf_keras  # pylint: disable=g-import-not-at-top

  model = tf_keras.Sequential([
      tf_keras.layers.Dense(512, activation='relu'),
      tf_keras.layers.Dense(256, activation='relu'),
      tf_keras.layers.Dense(num_labels, activation='sigmoid'),
  ])
  model.compile(loss='binary_crossentropy', optimizer='adam')
  rng = np.random.default_rng(0)
  # A dense batch with ~250 non-zero TF-IDF weights per row, like a real abstract.
  inputs = np.zeros((batch_size, vocabulary_size), np.float32)
  for row in range(batch_size):
    inputs[row, rng.integers(0, vocabulary_size, 250)] = rng.random(250) * 5
  targets = (rng.random((batch_size, num_labels)) < 0.015).astype(np.float32)
  inputs, targets = tf.constant(inputs), tf.constant(targets)
  model.train_on_batch(inputs, targets)  # Builds and traces; not timed.
  started = time.monotonic()
  for _ in range(steps):
    model.train_on_batch(inputs, targets)
  per_step = (time.monotonic() - started) / steps
  steps_per_epoch = int(np.ceil(train_rows / batch_size))
  return {'vocabulary_size': vocabulary_size, 'parameters': model.count_params(),
          'seconds_per_step': per_step, 'timed_steps': steps,
          'extrapolated_epoch_seconds': per_step * steps_per_epoch}
