"""The function words (the most frequent unigrams of train), which the `explain`
signature never names as evidence, and the evidence benchmarks/evidence.py counts."""

import numpy as np
import tensorflow as tf

from benchmarks import evidence
from components import export
from components import features

VOCABULARY = ['the', 'of the', 'we', 'neural', 'neural network', 'image']


def test_function_words_are_the_most_frequent_unigrams_in_vocabulary_order():
  assert export.most_frequent_unigrams(VOCABULARY, count=3) == ['the', 'we', 'neural']


def test_evidence_names_neither_function_words_nor_the_out_of_vocabulary_id():
  nameable = export.nameable_ngrams(VOCABULARY, common_unigrams=2)
  assert nameable.tolist() == [False, True, False, True, True, True, False]
  # One paper with 'the' (0), 'neural' (3), 'image' (5) and an unknown n-gram (6);
  # one label, 'the' and the unknown one contributing most.
  ids = tf.SparseTensor([[0, 0], [0, 1], [0, 2], [0, 3]], tf.constant([0, 3, 5, 6], tf.int64),
                        [1, 4])
  contributions = tf.constant([[9.0], [0.5], [0.7], [8.0]])
  top_ids, scores = export.top_evidence(ids, contributions, tf.constant(nameable), count=3)
  assert top_ids.numpy().tolist() == [[[5, 3, 6]]]  # The third: padding, score 0.
  np.testing.assert_allclose(scores.numpy(), [[[0.7, 0.5, 0.0]]])


def test_only_the_evidence_the_portal_shows_is_counted():
  # Two papers, two labels each, two n-grams per label; '' and a score of 0 are padding.
  outputs = {
      features.EVIDENCE_NGRAMS_KEY: np.array([[[b'image', b'the'], [b'video', b'']],
                                              [[b'', b''], [b'graph', b'we']]], object),
      features.EVIDENCE_SCORES_KEY: np.array([[[0.9, 0.1], [0.4, 0.0]],
                                              [[0.0, 0.0], [0.3, 0.0]]], np.float32),
  }
  assert evidence.shown_evidence(outputs) == [['image', 'the', 'video'], ['graph']]
