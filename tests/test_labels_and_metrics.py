"""Multi-hot labels and their inverse; the NumPy metrics and threshold tuning."""

import numpy as np
import pytest
import tensorflow as tf

from components import errors
from components import labels
from components import metrics

VOCABULARY = ['cs.CV', 'cs.LG', 'cs.CL', 'stat.ML']


def test_multi_hot_sets_one_position_per_label():
  ids = tf.SparseTensor(indices=[[0, 0], [0, 1], [2, 0]], values=tf.constant([1, 3, 0], tf.int64),
                        dense_shape=[3, 2])
  encoded = labels.multi_hot(ids, len(VOCABULARY)).numpy()
  np.testing.assert_array_equal(encoded, [[0, 1, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0]])


def test_invert_multi_hot_returns_the_label_names():
  assert labels.invert_multi_hot(np.array([0., 1., 0., 1.]), VOCABULARY) == ['cs.LG', 'stat.ML']
  assert labels.invert_multi_hot(np.zeros(4), VOCABULARY) == []


def test_multi_hot_then_inverse_round_trips():
  ids = tf.SparseTensor(indices=[[0, 0], [0, 1]], values=tf.constant([2, 0], tf.int64),
                        dense_shape=[1, 2])
  encoded = labels.multi_hot(ids, len(VOCABULARY)).numpy()[0]
  assert labels.invert_multi_hot(encoded, VOCABULARY) == ['cs.CV', 'cs.CL']


TRUTH = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1], [0, 1, 0]])
SCORES = np.array([[0.9, 0.2, 0.1], [0.8, 0.4, 0.3], [0.2, 0.1, 0.7], [0.6, 0.3, 0.2]])


def test_an_empty_label_vocabulary_file_stops_the_trainer(tmp_path):
  """tf.Transform writes a placeholder into an empty vocabulary; neither it nor an
  empty file is a vocabulary (the data gate stops such runs earlier: test_monthly)."""
  path = tmp_path / 'labels'
  path.write_text('cs.LG\ncs.CV\n')
  assert labels.read_vocabulary(str(path)) == ['cs.LG', 'cs.CV']
  for content in ('', labels._EMPTY_VOCABULARY_PLACEHOLDER + '\n'):  # pylint: disable=protected-access
    path.write_text(content)
    with pytest.raises(errors.DataError, match='is empty: no label of the train split occurs'):
      labels.read_vocabulary(str(path))


def test_classification_metrics_by_hand():
  result = metrics.classification_metrics(TRUTH, SCORES, 0.5)
  # Predicted positives: (0,0) (1,0) (2,2) (3,0) -> 3 true of 4; 5 true labels in all.
  assert result['micro_precision'] == pytest.approx(3 / 4)
  assert result['micro_recall'] == pytest.approx(3 / 5)
  assert result['micro_f1'] == pytest.approx(2 * 3 / (4 + 5))
  # Per label F1: label 0: tp 2, pred 3, true 2 -> 0.8; label 1: 0; label 2: 1.0.
  assert result['macro_f1'] == pytest.approx((0.8 + 0 + 1) / 3)
  assert result['binary_accuracy'] == pytest.approx(9 / 12)
  assert result['subset_accuracy'] == pytest.approx(2 / 4)
  assert result['precision_at_1'] == pytest.approx(3 / 4)


def test_predicting_nothing_scores_high_binary_accuracy_and_zero_f1():
  sparse_truth = np.zeros((10, 100))
  sparse_truth[:, 0] = 1
  result = metrics.classification_metrics(sparse_truth, np.zeros((10, 100)), 0.5)
  assert result['binary_accuracy'] == pytest.approx(0.99)
  assert result['micro_f1'] == 0.0


def test_tune_global_threshold_finds_the_best_micro_f1():
  # Every true label scores at least 0.45 and every other at most 0.4.
  separable = np.array([[0.9, 0.2, 0.1], [0.8, 0.45, 0.4], [0.2, 0.1, 0.7], [0.3, 0.5, 0.2]])
  threshold = metrics.tune_global_threshold(TRUTH, separable)
  assert 0.4 < threshold <= 0.45
  assert metrics.classification_metrics(TRUTH, separable, threshold)['micro_f1'] == 1.0
  assert metrics.classification_metrics(TRUTH, separable, 0.5)['micro_f1'] < 1.0


def test_tune_label_thresholds_fits_each_label_with_enough_positives():
  truth = np.array([[1, 0], [1, 0], [1, 1], [0, 0], [0, 0]])
  scores = np.array([[0.2, 0.1], [0.25, 0.1], [0.3, 0.9], [0.1, 0.1], [0.15, 0.2]])
  thresholds = metrics.tune_label_thresholds(truth, scores, fallback=0.5, min_positives=2)
  assert 0.15 < thresholds[0] <= 0.2  # label 0: positives score 0.2-0.3, negatives <= 0.15
  assert thresholds[1] == 0.5  # label 1 has one positive: too few, keeps the fallback
  assert metrics.classification_metrics(truth[:, :1], scores[:, :1],
                                        thresholds[:1])['micro_f1'] == 1.0
  # Shrinkage pulls label 0's own threshold (0.2, from 3 positives) toward 0.5.
  shrunk = metrics.tune_label_thresholds(truth, scores, fallback=0.5, min_positives=2,
                                         shrinkage=3)
  assert shrunk[0] == pytest.approx((3 * thresholds[0] + 3 * 0.5) / 6)


def _two_models(examples=400, seed=1):
  rng = np.random.default_rng(seed)
  truth = rng.random((examples, 6)) < 0.3
  good = np.clip(truth + rng.normal(0, 0.3, truth.shape), 0, 1)
  poor = np.clip(truth + rng.normal(0, 0.8, truth.shape), 0, 1)
  return truth, (good, np.full(6, 0.5)), (poor, np.array([0.4, 0.5, 0.5, 0.6, 0.5, 0.5]))


def test_paired_bootstrap_estimates_are_the_metrics_on_the_examples():
  truth, good, poor = _two_models()
  result = metrics.paired_bootstrap(truth, good, poor, resamples=50)
  for key, model in (('a', good), ('b', poor)):
    expected = metrics.classification_metrics(truth, *model)
    for name in metrics.BOOTSTRAPPED_METRICS:
      assert result[key][name]['estimate'] == pytest.approx(expected[name])
  for name in metrics.BOOTSTRAPPED_METRICS:
    assert result['a_minus_b'][name]['estimate'] == pytest.approx(
        result['a'][name]['estimate'] - result['b'][name]['estimate'])


def test_paired_bootstrap_intervals_bracket_the_estimate_and_separate_unequal_models():
  truth, good, poor = _two_models()
  result = metrics.paired_bootstrap(truth, good, poor, resamples=300)
  for key in ('a', 'b', 'a_minus_b'):
    for interval in result[key].values():
      assert interval['low'] <= interval['estimate'] <= interval['high']
      assert interval['low'] < interval['high']
  # The clearly better model's margin stays above zero on every metric.
  assert all(interval['low'] > 0 for interval in result['a_minus_b'].values())


def test_macro_f1_interval_holds_its_estimate_when_rare_labels_are_never_predicted():
  """A month's many one-paper labels, never predicted: a resample that misses one
  leaves it out of the macro average, so resampled macro-F1 runs high. The interval
  must still hold the estimate (uncorrected percentiles lay wholly above it)."""
  examples, rare = 300, 40
  truth = np.zeros((examples, rare + 1), bool)
  truth[:, 0] = np.arange(examples) % 2 == 0
  truth[np.arange(rare) * 7, 1 + np.arange(rare)] = True
  probabilities = np.where(truth[:, :1], 0.9, 0.1) * np.eye(1, rare + 1, 0)
  model = (probabilities, np.full(rare + 1, 0.5))
  result = metrics.paired_bootstrap(truth, model, model, resamples=300)['a']['macro_f1']
  assert result['estimate'] == pytest.approx(1 / (rare + 1))
  assert result['low'] <= result['estimate'] <= result['high']


def test_paired_bootstrap_of_a_model_against_itself_is_exactly_zero():
  truth, good, _ = _two_models()
  differences = metrics.paired_bootstrap(truth, good, good, resamples=100)['a_minus_b']
  for interval in differences.values():
    assert interval == {'estimate': 0.0, 'low': 0.0, 'high': 0.0}


def test_paired_bootstrap_of_several_trainings_averages_them_and_holds_their_spread():
  """A model given as trainings (seeds) scores their mean, and its interval also
  holds how much the trainings differ: wider than any one training's."""
  truth, good, poor = _two_models()
  one = metrics.paired_bootstrap_mean([(truth, [good], poor)], resamples=300)
  assert one == metrics.paired_bootstrap_mean([(truth, good, poor)], resamples=300)
  both = metrics.paired_bootstrap_mean([(truth, [good, poor], poor)], resamples=300)
  for name in metrics.BOOTSTRAPPED_METRICS:
    expected = np.mean([metrics.classification_metrics(truth, *model)[name]
                        for model in (good, poor)])
    assert both['a'][name]['estimate'] == pytest.approx(expected)
    width = both['a'][name]['high'] - both['a'][name]['low']
    assert width > 2 * (one['a'][name]['high'] - one['a'][name]['low'])


def test_paired_bootstrap_is_reproducible_and_narrows_with_more_examples():
  truth, good, poor = _two_models()
  assert metrics.paired_bootstrap(truth, good, poor, seed=3) == metrics.paired_bootstrap(
      truth, good, poor, seed=3)

  def width(examples):
    truth, good, poor = _two_models(examples)
    micro = metrics.paired_bootstrap(truth, good, poor)['a']['micro_f1']
    return micro['high'] - micro['low']

  assert width(4000) < width(250) / 2


def test_label_prior_baseline_predicts_the_labels_eval_favours():
  # Shares in train: a 0.6, b 0.3, c 0.05. In eval (100 papers) a is on 70, b on 40,
  # c on 1: predicting {a} scores 2*70/(100+111) = 0.66, {a, b} 2*110/(200+111) = 0.71,
  # {a, b, c} 2*111/(300+111) = 0.54.
  shares, threshold = metrics.label_prior_baseline(np.array([0.6, 0.3, 0.05]),
                                                   np.array([70, 40, 1]), 100)
  assert list(shares >= threshold) == [True, True, False]
  _, nothing = metrics.label_prior_baseline(np.array([0.6, 0.3]), np.array([0, 0]), 10)
  assert nothing > 0.6
