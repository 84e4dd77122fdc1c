"""The exact n-gram vocabulary against `tft.vocabulary`, in any input order."""

import logging
import pickle
import tempfile

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from components import exact_vocabulary

# Counts: "a" 4, "b" 3, "c" 3, "d" 3, "e" 1, "f" 1: ties at the cap of 3 and below it.
TEXTS = [b'a b c', b'a d b', b'a c d', b'a b c d e', b'f']
METADATA = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(
    {'text': tf.io.FixedLenFeature([], tf.string)}))


CAPS = (3, 100)  # Below and above the number of distinct tokens.


def vocabularies(texts):
  """{(analyzer, cap): its vocabulary file as a list of lines} for tft.vocabulary
  ('reference') and ours ('exact'), the texts analyzed in batches of two."""

  def preprocessing_fn(inputs):
    tokens = tf.strings.split(inputs['text']).to_sparse()
    for top_k in CAPS:
      tft.vocabulary(tokens, top_k=top_k, vocab_filename=f'reference_{top_k}')
      exact_vocabulary.vocabulary(tokens, top_k, f'exact_{top_k}')
    return {'text': inputs['text']}

  output_dir = tempfile.mkdtemp()
  with tempfile.TemporaryDirectory() as temp_dir, tft_beam.Context(temp_dir=temp_dir,
                                                                   desired_batch_size=2):
    transform_fn = (([{'text': t} for t in texts], METADATA)
                    | tft_beam.AnalyzeDataset(preprocessing_fn))
    _ = transform_fn | tft_beam.WriteTransformFn(output_dir)
  output = tft.TFTransformOutput(output_dir)
  return {(name, top_k): [t.decode() for t in output.vocabulary_by_name(f'{name}_{top_k}')]
          for name in ('reference', 'exact') for top_k in CAPS}


def test_the_same_file_as_tft_vocabulary_in_either_order():
  forward, backward = vocabularies(TEXTS), vocabularies(TEXTS[::-1])
  for top_k in CAPS:
    assert forward['exact', top_k] == forward['reference', top_k], top_k
    assert backward['exact', top_k] == forward['exact', top_k], top_k
    # Most frequent first, ties in reverse order of the token.
    assert forward['exact', top_k] == ['a', 'd', 'c', 'b', 'f', 'e'][:top_k]


def test_counts_survive_pickling_between_workers():
  counts = exact_vocabulary.TokenCounts()
  counts.add(np.array([b'x', b'y'], object), np.array([2, 5]))
  restored = pickle.loads(pickle.dumps(counts))
  restored.add(np.array([b'x'], object), np.array([4]))
  assert restored.added == 11
  assert restored.most_frequent() == [b'x', b'y']


def test_a_sketch_too_small_to_count_exactly_says_so(monkeypatch, caplog):
  monkeypatch.setattr(exact_vocabulary, 'MAX_DISTINCT_TOKENS', 2)
  counts = exact_vocabulary.TokenCounts()
  counts.add(np.array([b'x', b'y', b'z'], object), np.array([3, 2, 1]))
  with caplog.at_level(logging.WARNING):
    counts.most_frequent()
  assert 'approximate' in caplog.text


def test_tokens_a_vocabulary_file_cannot_hold_are_left_out():
  assert [exact_vocabulary.writable(t) for t in (b'ok', b'', b'a\nb', b'a\rb')] == [
      True, False, False, False]
