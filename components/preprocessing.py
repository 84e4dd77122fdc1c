"""Transform's `preprocessing_fn`: the reference's text vectorization and labels.

Title + abstract -> lower-cased, punctuation stripped -> unigrams + bigrams -> ids in a
vocabulary learned on the train split -> TF-IDF weights as Keras' TextVectorization
(`output_mode='tf_idf'`) computes them: the n-gram's count in the abstract times
log(1 + documents / (1 + documents containing it)), document counts from train.
Labels -> ids in a label vocabulary learned on the train split (the sparse form of
the multi-hot vector; see `components.labels`). The span is passed on, -1 where a
paper has none.
"""

from typing import Any, Dict, Mapping, Optional, Tuple

import tensorflow as tf
import tensorflow_transform as tft

from components import exact_vocabulary
from components import features
from components import settings as settings_lib

# The reference's `lower_and_strip_punctuation` standardization (Keras
# TextVectorization): these characters are deleted, not replaced by spaces.
PUNCTUATION = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'


def tokenize(text: tf.Tensor) -> tf.SparseTensor:
  """Lower-cases, strips punctuation and splits on whitespace: [batch] -> tokens."""
  standardized = tf.strings.regex_replace(tf.strings.lower(text), PUNCTUATION, '')
  return tf.strings.split(standardized).to_sparse()


def paper_text(inputs: Dict[str, tf.Tensor]) -> tf.Tensor:
  """Title and abstract as one text: [batch] strings. Titles are dense in signal."""
  return tf.strings.join([tf.reshape(inputs[features.TITLE_KEY], [-1]),
                          tf.reshape(inputs[features.ABSTRACT_KEY], [-1])], separator=' ')


def preprocessing_fn(inputs: Dict[str, Any],
                     custom_config: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
  """Maps raw examples to TF-IDF n-gram features and label ids."""
  settings = settings_lib.from_custom_config(settings_lib.TransformSettings, custom_config)
  ngrams = tft.ngrams(tokenize(paper_text(inputs)), ngram_range=(1, 2), separator=' ')
  ngram_ids = tft.apply_vocabulary(
      ngrams, ngram_vocabulary(ngrams, settings.max_vocabulary_size), num_oov_buckets=1)
  # One id past the vocabulary cap holds every out-of-vocabulary n-gram.
  ids, weights = tfidf(ngram_ids, settings.max_vocabulary_size + 1)
  label_ids = tft.compute_and_apply_vocabulary(
      inputs[features.LABELS_KEY],
      frequency_threshold=_threshold(settings.min_label_count),
      default_value=-1,
      vocab_filename=features.LABEL_VOCABULARY,
      name='label_vocabulary')
  return {
      features.NGRAM_IDS_KEY: ids,
      features.NGRAM_WEIGHTS_KEY: weights,
      features.LABEL_IDS_KEY: _drop_unknown(label_ids),
      features.SPAN_KEY: tf.reshape(tft.sparse_tensor_to_dense_with_shape(
          inputs[features.SPAN_KEY], [None, 1], default_value=-1), [-1]),
  }


def ngram_vocabulary(ngrams: tf.SparseTensor, top_k: int) -> str:
  """The `top_k` most frequent n-grams of the analyzed data: the vocabulary file.

  Counted exactly, ties broken by the n-gram itself, so the same papers give the same
  vocabulary whatever order Beam reads them in (tf.Transform's `approximate_vocabulary`
  does not), at a fraction of `tft.vocabulary`'s cost: see `components.exact_vocabulary`.
  """
  return exact_vocabulary.vocabulary(ngrams, top_k, features.NGRAM_VOCABULARY)


def tfidf(ids: tf.SparseTensor, id_count: int) -> Tuple[tf.SparseTensor, tf.SparseTensor]:
  """Each document's distinct term ids and their TF-IDF weights (Keras' formula).

  `tft.tfidf` divides the count by the document's length; Keras does not, and the
  unscaled weights are what the reference's MLP was tuned on.
  """
  counts = tf.sparse.bincount(ids, axis=-1, minlength=id_count, maxlength=id_count)
  terms = counts.indices[:, 1]
  documents_with_term = tft.sum(
      tf.expand_dims(tf.math.unsorted_segment_sum(
          tf.ones_like(terms, tf.float32), terms, id_count), 0),
      reduce_instance_dims=False, name='documents_with_term')
  documents = tft.sum(tf.ones(ids.dense_shape[:1], tf.float32), name='documents')
  idf = tf.math.log(1.0 + documents / (1.0 + documents_with_term))
  weights = tf.cast(counts.values, tf.float32) * tf.gather(idf, terms)
  return _compact(counts.indices, terms, counts.dense_shape), _compact(
      counts.indices, weights, counts.dense_shape)


def _drop_unknown(label_ids: tf.SparseTensor) -> tf.SparseTensor:
  """Drops the -1 ids of labels outside the vocabulary (unseen in train or too rare)."""
  known = tf.sparse.retain(label_ids, label_ids.values >= 0)
  return _compact(known.indices, known.values, known.dense_shape)


def _compact(indices: tf.Tensor, values: tf.Tensor, dense_shape: tf.Tensor) -> tf.SparseTensor:
  """A variable-length feature of `values` by row, indexed from column 0 as
  tf.Transform requires."""
  return tf.RaggedTensor.from_value_rowids(
      values, indices[:, 0], nrows=dense_shape[0]).to_sparse()


def _threshold(min_count: int) -> Optional[int]:
  return min_count if min_count > 1 else None  # tft warns that 1 is a no-op.
