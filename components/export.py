"""Serving signatures of the exported SavedModel.

- `serving_default`: raw abstract (and title) strings -> every label's probability
  and name, which labels reach their threshold, the top-k label names, and a warning
  when the text gives too little evidence to suggest anything (`input_warning`; no
  label is then `predicted`). The Transform graph is inside, so serving applies
  exactly the training-time vectorization.
- `serve_examples`: serialized tf.Examples -> probabilities and decision scores, for
  TFMA, with the label-priors baseline's decision scores to judge them against; `transform_features` gives TFMA the multi-hot labels and slicing columns.
- `label_vocabulary`: label names and their decision thresholds, for clients.
- `explain`: what `serving_default` gives, and for people reading it: how much of
  the text the model knows (`known_ngrams` of `ngrams`, behind the warning), and per
  top-k label the n-grams that pushed it up most (`evidence_ngrams`,
  `evidence_scores`), never one of the words nearly every abstract has.
"""

from typing import Dict, List, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras

from components import evaluation
from components import features
from components import labels as labels_lib
from components import model as model_lib
from components import preprocessing
from components import settings as settings_lib

_EPSILON = 1e-7
# Scripts written without spaces between words. The tokenizer splits on
# whitespace, so such a text is a handful of sentence-long "n-grams" that no
# vocabulary holds: neither "too short" nor "unfamiliar" says what is wrong.
_UNSPACED_SCRIPTS = r'\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}'
# The share of a text's letters in those scripts from which it gets its own warning:
# most of it, so that a CJK name or term in an English abstract does not.
_MAX_UNSPACED_SHARE = 0.5


def decision_scores(probabilities: tf.Tensor, thresholds: tf.Tensor) -> tf.Tensor:
  """Shifts each label's log-odds so that 0.5 falls exactly on its threshold.

  TFMA's threshold metrics (precision, recall, F1 at 0.5) then measure the
  decisions the model really makes with its tuned thresholds.
  """
  def log_odds(p):
    p = tf.clip_by_value(p, _EPSILON, 1 - _EPSILON)
    return tf.math.log(p) - tf.math.log1p(-p)

  return tf.sigmoid(log_odds(probabilities) - log_odds(thresholds))


def ngram_contributions(model: tf_keras.Model, ngram_ids: tf.SparseTensor,
                        ngram_weights: tf.SparseTensor, label_ids: tf.Tensor) -> tf.Tensor:
  """Per n-gram of each abstract, its contribution to the logit of each of the
  abstract's `label_ids` ([batch, k]): [n-grams in the batch, k], aligned with
  `ngram_ids.values`.

  The first layer is a TF-IDF-weighted sum of table rows, so an n-gram's share of
  the first layer's input is its weighted row; that share times the logit's
  gradient there (gradient x input) is its contribution. The contributions of an
  abstract's n-grams add up to about its logit less the bias-only logit. For an
  ensemble, its members' contributions, each to its own logit, averaged with the
  weights the ensemble gives each member for that label: the ensemble averages
  probabilities, which have no logit of their own, and the mean ranks n-grams as
  the members agree.
  """
  example = ngram_ids.indices[:, 0]
  num_labels = model.output_shape[-1]
  # Each member's weight of each n-gram's label: [n-grams, k].
  return tf.add_n([
      tf.gather(tf.gather(tf.broadcast_to(weights, [num_labels]), label_ids), example) *
      _member_contributions(member, ngram_ids, ngram_weights, label_ids)
      for member, weights in model_lib.members_of(model)])


def _member_contributions(model: tf_keras.Model, ngram_ids: tf.SparseTensor,
                          ngram_weights: tf.SparseTensor, label_ids: tf.Tensor) -> tf.Tensor:
  """`ngram_contributions` of one trained MLP or linear model."""
  table = model.get_layer(model_lib.TABLE_LAYER)
  output = model.get_layer(features.PROBABILITIES_KEY)
  # The layers between them form a chain: ReLU, Dropout, Dense, ...
  hidden_layers = model.layers[model.layers.index(table) + 1:model.layers.index(output)]
  shares = tf.gather(table.kernel, ngram_ids.values) * ngram_weights.values[:, None]
  example = ngram_ids.indices[:, 0]
  with tf.GradientTape(persistent=True) as tape:
    first = tf.math.unsorted_segment_sum(shares, example, ngram_ids.dense_shape[0])
    tape.watch(first)
    hidden = first + table.bias
    for layer in hidden_layers:
      hidden = layer(hidden, training=False)
    # The sigmoid layer's logits, not its probabilities; a linear model's table
    # gives the logits itself.
    if isinstance(output, tf_keras.layers.Dense):
      logits = tf.matmul(hidden, output.kernel) + output.bias
    else:
      logits = hidden
    chosen = [tf.reduce_sum(tf.gather(logits, label_ids[:, k], batch_dims=1))
              for k in range(label_ids.shape[1])]
  gradients = [tf.gather(tape.gradient(logit, first), example) for logit in chosen]
  del tape
  return tf.stack([tf.reduce_sum(shares * gradient, axis=1) for gradient in gradients], axis=1)


def most_frequent_unigrams(vocabulary: Sequence[str], count: int) -> List[str]:
  """The `count` most frequent unigrams of train: the first of Transform's n-gram
  vocabulary, which is ordered by frequency."""
  return [ngram for ngram in vocabulary if ' ' not in ngram][:count]


def nameable_ngrams(vocabulary: Sequence[str], common_unigrams: int) -> np.ndarray:
  """[vocabulary size + 1] whether the `explain` signature may name each n-gram id as
  evidence: all but the `common_unigrams` most frequent unigrams and the
  out-of-vocabulary id (the last)."""
  common = set(most_frequent_unigrams(vocabulary, common_unigrams))
  return np.array([ngram not in common for ngram in vocabulary] + [False])


def top_evidence(ngram_ids: tf.SparseTensor, contributions: tf.Tensor, nameable: tf.Tensor,
                 count: int) -> Tuple[tf.Tensor, tf.Tensor]:
  """(ids, scores) [batch, k, count] of each abstract's `count` nameable n-grams with
  the largest positive contribution per label; out-of-vocabulary id and score 0 where
  fewer. `nameable` is `nameable_ngrams`'s mask."""
  out_of_vocabulary = tf.shape(nameable, out_type=tf.int64)[0] - 1
  k = tf.shape(contributions)[1]
  width = tf.maximum(ngram_ids.dense_shape[1], count)
  shown = tf.gather(nameable, ngram_ids.values)[:, None]
  scores = tf.where(shown & (contributions > 0), contributions, 0.0)
  dense = tf.scatter_nd(ngram_ids.indices, scores,
                        tf.stack([ngram_ids.dense_shape[0], width, tf.cast(k, tf.int64)]))
  top = tf.math.top_k(tf.transpose(dense, [0, 2, 1]), k=count)
  ids = tf.sparse.to_dense(ngram_ids, default_value=out_of_vocabulary)
  ids = tf.pad(ids, [[0, 0], [0, width - tf.shape(ids, out_type=tf.int64)[1]]],
               constant_values=out_of_vocabulary)
  top_ids = tf.gather(ids, top.indices, batch_dims=1)
  return tf.where(top.values > 0, top_ids, out_of_vocabulary), top.values


def unspaced_share(text: tf.Tensor) -> tf.Tensor:
  """[batch] share of each text's letters in scripts written without spaces (0 for
  a text without letters)."""
  def letters(pattern):
    return tf.cast(tf.strings.length(tf.strings.regex_replace(text, pattern, ''),
                                     unit='UTF8_CHAR'), tf.float32)
  return letters(f'[^{_UNSPACED_SCRIPTS}]') / tf.maximum(letters(r'\PL'), 1.0)


def input_warning(raw: Dict[str, tf.Tensor], ngram_ids: tf.lookup.StaticHashTable,
                  settings: settings_lib.TrainerSettings
                  ) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """(ngrams, known_ngrams, warning) [batch] of raw title and abstract strings.

  The text's n-gram occurrences as Transform splits them, known or not, and those in
  the vocabulary (`ngram_ids` maps the others to -1). The warning, first that applies:
  UNSUPPORTED_SCRIPT (mostly letters of scripts without spaces between words),
  TOO_SHORT (under `min_ngrams`), UNFAMILIAR (under `min_known_ngram_share` known);
  '' when the text is evidence enough to suggest labels.
  """
  text = preprocessing.paper_text(raw)
  ngrams = tft.ngrams(preprocessing.tokenize(text), ngram_range=(1, 2), separator=' ')
  rows = tf.shape(text, out_type=tf.int64)[0]
  count = lambda values: tf.cast(tf.math.unsorted_segment_sum(
      tf.cast(values, tf.int32), ngrams.indices[:, 0], rows), tf.int32)
  total = count(tf.ones_like(ngrams.values, tf.bool))
  known = count(ngram_ids.lookup(ngrams.values) >= 0)
  warning = tf.where(
      unspaced_share(text) >= _MAX_UNSPACED_SHARE, features.UNSUPPORTED_SCRIPT,
      tf.where(total < settings.min_ngrams, features.TOO_SHORT,
               tf.where(tf.cast(known, tf.float32) < settings.min_known_ngram_share *
                        tf.cast(total, tf.float32), features.UNFAMILIAR, '')))
  return total, known, warning


def save(model: tf_keras.Model, tf_transform_output: tft.TFTransformOutput,
         label_names: Sequence[str], thresholds: Sequence[float],
         label_priors: Tuple[Sequence[float], float],
         settings: settings_lib.TrainerSettings, export_dir: str) -> None:
  """Saves `model` with the Transform graph and the signatures above; `label_priors`
  is the label-priors baseline's (probabilities, threshold)."""
  # Tracked as attributes so that their resources (vocabulary tables) are saved.
  model.tft_layer = tf_transform_output.transform_features_layer()
  model.label_names = tf.Variable(list(label_names), trainable=False, name='label_names')
  model.thresholds = tf.Variable(list(thresholds), dtype=tf.float32, trainable=False,
                                 name='thresholds')
  prior_probabilities, prior_threshold = label_priors
  model.prior_decision_scores = tf.Variable(
      decision_scores(tf.constant(prior_probabilities, tf.float32), prior_threshold),
      trainable=False, name='prior_decision_scores')
  top_k = min(settings.top_k, len(label_names))
  vocabulary = tf_transform_output.vocabulary_file_by_name(features.NGRAM_VOCABULARY)
  nameable = tf.constant(nameable_ngrams(
      [ngram.decode('utf-8') for ngram in
       tf_transform_output.vocabulary_by_name(features.NGRAM_VOCABULARY)],
      settings.evidence_skips_common_unigrams))
  # The vocabulary file is copied into the SavedModel's assets with the tables.
  model.ngram_ids = tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(
      vocabulary, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
      tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER), default_value=-1)
  model.ngram_names = tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(
      vocabulary, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER,
      tf.string, tf.lookup.TextFileIndex.WHOLE_LINE), default_value='')
  example_spec = tf_transform_output.raw_feature_spec()
  # The text is the model's input; labels and span are not.
  input_spec = {k: example_spec[k] for k in (features.ABSTRACT_KEY, features.TITLE_KEY)}

  def predict(raw_features: Dict[str, tf.Tensor]) -> tf.Tensor:
    return model(model.tft_layer(raw_features))

  # Graph code throughout, so autograph has nothing to rewrite: spared, it does not
  # transpile tf.Transform's layer on every save (see model.ConvertlessModel).
  text_signature = [tf.TensorSpec([None], tf.string, name=features.ABSTRACT_KEY),
                    tf.TensorSpec([None], tf.string, name=features.TITLE_KEY)]

  def text_outputs(probabilities: tf.Tensor, top, warning: tf.Tensor) -> Dict[str, tf.Tensor]:
    # No suggestion for a text that gives the model too little to go on.
    suggest = (probabilities >= model.thresholds) & tf.equal(warning, '')[:, None]
    return {
        features.PROBABILITIES_KEY: probabilities,
        features.PREDICTED_KEY: tf.cast(suggest, tf.int32),
        # Per row, so that TF Serving's row format pairs every probability with its name.
        features.LABEL_NAMES_KEY: tf.broadcast_to(model.label_names, tf.shape(probabilities)),
        features.TOP_K_LABELS_KEY: tf.gather(model.label_names, top.indices),
        features.TOP_K_PROBABILITIES_KEY: top.values,
        features.INPUT_WARNING_KEY: warning,
    }

  @tf.function(autograph=False, input_signature=text_signature)
  def serve_text(abstract, title):
    raw = {features.ABSTRACT_KEY: abstract, features.TITLE_KEY: title}
    probabilities = predict(raw)
    _, _, warning = input_warning(raw, model.ngram_ids, settings)
    return text_outputs(probabilities, tf.math.top_k(probabilities, k=top_k), warning)

  @tf.function(autograph=False, input_signature=text_signature)
  def explain(abstract, title):
    raw = {features.ABSTRACT_KEY: abstract, features.TITLE_KEY: title}
    transformed = model.tft_layer(raw)
    ids, weights = transformed[features.NGRAM_IDS_KEY], transformed[features.NGRAM_WEIGHTS_KEY]
    probabilities = model({features.NGRAM_IDS_KEY: ids, features.NGRAM_WEIGHTS_KEY: weights})
    top = tf.math.top_k(probabilities, k=top_k)
    evidence_ids, evidence_scores = top_evidence(
        ids, ngram_contributions(model, ids, weights, top.indices), nameable,
        settings.evidence_ngrams)
    total, known, warning = input_warning(raw, model.ngram_ids, settings)
    return {
        **text_outputs(probabilities, top, warning),
        features.NGRAMS_KEY: total,
        features.KNOWN_NGRAMS_KEY: known,
        features.EVIDENCE_NGRAMS_KEY: model.ngram_names.lookup(evidence_ids),
        features.EVIDENCE_SCORES_KEY: evidence_scores,
    }

  @tf.function(autograph=False,
               input_signature=[tf.TensorSpec([None], tf.string, name='examples')])
  def serve_examples(serialized):
    probabilities = predict(tf.io.parse_example(serialized, input_spec))
    return {
        features.PROBABILITIES_KEY: probabilities,
        features.DECISION_SCORES_KEY: decision_scores(probabilities, model.thresholds),
        features.PRIOR_DECISION_SCORES_KEY: tf.broadcast_to(model.prior_decision_scores,
                                                             tf.shape(probabilities)),
    }

  @tf.function(autograph=False,
               input_signature=[tf.TensorSpec([None], tf.string, name='examples')])
  def transform_features(serialized):
    raw = tf.io.parse_example(serialized, example_spec)
    transformed = model.tft_layer(raw)
    # The label and the slicing columns only: signature outputs must be dense, and
    # the n-gram features are sparse.
    return {
        features.MULTI_HOT_LABELS_KEY: labels_lib.multi_hot(
            transformed[features.LABEL_IDS_KEY], len(label_names)),
        **evaluation.slice_features(raw),
    }

  @tf.function(autograph=False, input_signature=[])
  def label_vocabulary():
    return {'labels': tf.identity(model.label_names),
            'thresholds': tf.identity(model.thresholds)}

  # Serving needs no optimizer state (for the table alone, an accumulator as large).
  model.save(export_dir, save_format='tf', include_optimizer=False, signatures={
      features.SERVING_SIGNATURE: serve_text,
      features.EXAMPLES_SIGNATURE: serve_examples,
      features.TRANSFORM_SIGNATURE: transform_features,
      features.LABELS_SIGNATURE: label_vocabulary,
      features.EXPLAIN_SIGNATURE: explain,
  })
