"""`preprocessing_fn` on a handful of rows, analyzed and applied by tf.Transform."""

import tempfile

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata
from tfx.utils import io_utils

from components import features
from components import preprocessing
from components import settings
from pipeline.config import SCHEMA_PATH

# Titles are empty where counts are checked; `test_title_words_are_features` covers them.
TRAIN = [
    {'title': b'', 'abstract': b'Deep learning, for images!', 'labels': [b'cs.CV', b'cs.LG']},
    {'title': b'', 'abstract': b'Deep learning for text.', 'labels': [b'cs.CL']},
    {'title': b'', 'abstract': b'Images and text', 'labels': [b'cs.CV', b'cs.CL']},
]


def test_tokenize_lowercases_and_deletes_punctuation_like_the_reference():
  tokens = preprocessing.tokenize(tf.constant(['State-of-the-art CNNs (e.g., ResNet)!']))
  assert [t.decode() for t in tokens.values.numpy()] == [
      'stateoftheart', 'cnns', 'eg', 'resnet']


def _analyze_and_transform(analyzed, transformed_rows, max_vocabulary_size=1000):
  """Analyzes one list of raw rows, transforms another with the result. Instance
  dicts need every feature of the schema: rows without a month get an empty span."""
  analyzed, transformed_rows = ([{features.SPAN_KEY: [], **row} for row in rows]
                                for rows in (analyzed, transformed_rows))
  metadata = dataset_metadata.DatasetMetadata(io_utils.SchemaReader().read(SCHEMA_PATH))
  config = settings.to_custom_config(
      settings.TransformSettings(max_vocabulary_size=max_vocabulary_size))
  output_dir = tempfile.mkdtemp()
  # Batches of two: an analyzer that counted batches instead of rows would show.
  with tempfile.TemporaryDirectory() as temp_dir, tft_beam.Context(temp_dir=temp_dir,
                                                                   desired_batch_size=2):
    transform_fn = (analyzed, metadata) | tft_beam.AnalyzeDataset(
        lambda inputs: preprocessing.preprocessing_fn(inputs, config))
    results, _ = ((transformed_rows, metadata), transform_fn) | tft_beam.TransformDataset()
    _ = transform_fn | tft_beam.WriteTransformFn(output_dir)
  return results, tft.TFTransformOutput(output_dir)


@pytest.fixture(scope='module')
def transformed():
  """Analyzes TRAIN, then transforms TRAIN, an unseen row and a row with a month with
  the result (one analysis: each costs a Beam pipeline)."""
  unseen = {'title': b'', 'abstract': b'Quantum text', 'labels': [b'quant-ph', b'cs.CL']}
  monthly = {**TRAIN[0], features.SPAN_KEY: [674]}
  results, output = _analyze_and_transform(TRAIN, TRAIN + [unseen, monthly])
  return {'train': results[:3], 'unseen': results[3:4], 'monthly': results[4:]}, output


def _vocabulary(output, name):
  return [v.decode() for v in output.vocabulary_by_name(name)]


def test_ngram_vocabulary_holds_unigrams_and_bigrams_of_train(transformed):
  _, output = transformed
  vocabulary = _vocabulary(output, features.NGRAM_VOCABULARY)
  assert {'deep', 'learning', 'deep learning', 'learning for', 'for images',
          'images and', 'and text'} <= set(vocabulary)
  assert 'quantum' not in vocabulary  # Only the train split is analyzed.


def test_tfidf_weights_are_term_frequency_times_inverse_document_frequency(transformed):
  results, output = transformed
  vocabulary = _vocabulary(output, features.NGRAM_VOCABULARY)
  first = results['train'][0]
  weights = dict(zip((vocabulary[i] for i in first[features.NGRAM_IDS_KEY]),
                     first[features.NGRAM_WEIGHTS_KEY]))
  # 'deep learning for images' has 4 unigrams + 3 bigrams = 7 terms, each once.
  assert len(weights) == 7
  # Keras' tf_idf: count * ln(1 + N / (1 + df)); N = 3 train documents.
  assert weights['images'] == pytest.approx(np.log(1 + 3 / 3))  # in 2 documents
  assert weights['for images'] == pytest.approx(np.log(1 + 3 / 2))  # in 1 document
  assert weights['for images'] > weights['deep']  # rarer weighs more


@pytest.fixture(scope='module')
def repeats_and_titles():
  """A second analysis (each costs a Beam pipeline): repeated terms and title words."""
  rows = [{'title': b'', 'abstract': b'graph graph graph neural', 'labels': [b'cs.LG']},
          {'title': b'', 'abstract': b'neural text', 'labels': [b'cs.CL']},
          {'title': b'Kernel Machines', 'abstract': b'We study molecules.', 'labels': [b'cs.LG']},
          {'title': b'', 'abstract': b'We study text.', 'labels': [b'cs.CL']}]
  results, output = _analyze_and_transform(rows, rows)
  vocabulary = _vocabulary(output, features.NGRAM_VOCABULARY)
  return [{vocabulary[i]: weight for i, weight in zip(row[features.NGRAM_IDS_KEY],
                                                      row[features.NGRAM_WEIGHTS_KEY])}
          for row in results]


def test_tfidf_counts_repeated_terms(repeats_and_titles):
  weights = repeats_and_titles[0]
  # N = 4 documents; 'graph' and 'graph graph' are in 1, 'neural' in 2.
  assert weights['graph'] == pytest.approx(3 * np.log(1 + 4 / 2))
  assert weights['graph graph'] == pytest.approx(2 * np.log(1 + 4 / 2))
  assert weights['neural'] == pytest.approx(np.log(1 + 4 / 3))


def test_title_words_are_features(repeats_and_titles):
  assert {'kernel', 'machines', 'kernel machines', 'molecules'} <= set(repeats_and_titles[2])


def test_unseen_ngrams_share_the_out_of_vocabulary_id(transformed):
  results, output = transformed
  vocabulary_size = output.vocabulary_size_by_name(features.NGRAM_VOCABULARY)
  unseen = results['unseen'][0]
  ids = list(unseen[features.NGRAM_IDS_KEY])
  # 'quantum' and 'quantum text' are out of vocabulary: one id, past the vocabulary.
  assert sorted(ids)[-1] == vocabulary_size and len(ids) == 2


def test_labels_become_ids_in_a_train_label_vocabulary(transformed):
  results, output = transformed
  labels = _vocabulary(output, features.LABEL_VOCABULARY)
  assert sorted(labels) == ['cs.CL', 'cs.CV', 'cs.LG']
  first = results['train'][0]
  assert sorted(labels[i] for i in first[features.LABEL_IDS_KEY]) == ['cs.CV', 'cs.LG']
  # A label never seen in train is dropped, not mapped to another label.
  assert [labels[i] for i in results['unseen'][0][features.LABEL_IDS_KEY]] == ['cs.CL']


def test_the_span_is_passed_on_and_minus_one_without_one(transformed):
  results, _ = transformed
  assert [int(row[features.SPAN_KEY]) for row in (results['monthly'][0], results['train'][1])
          ] == [674, -1]
