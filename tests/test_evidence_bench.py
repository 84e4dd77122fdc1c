"""benchmarks/evidence.py's choice of function words and of the evidence it counts."""

import numpy as np

from benchmarks import evidence
from components import features


def test_function_words_are_the_most_frequent_unigrams_in_vocabulary_order():
  vocabulary = ['the', 'of the', 'we', 'neural', 'neural network', 'image']
  assert evidence.function_words(vocabulary, count=3) == ['the', 'we', 'neural']


def test_only_the_evidence_the_portal_shows_is_counted():
  # Two papers, two labels each, two n-grams per label; '' and a score of 0 are padding.
  outputs = {
      features.EVIDENCE_NGRAMS_KEY: np.array([[[b'image', b'the'], [b'video', b'']],
                                              [[b'', b''], [b'graph', b'we']]], object),
      features.EVIDENCE_SCORES_KEY: np.array([[[0.9, 0.1], [0.4, 0.0]],
                                              [[0.0, 0.0], [0.3, 0.0]]], np.float32),
  }
  assert evidence.shown_evidence(outputs) == [['image', 'the', 'video'], ['graph']]
