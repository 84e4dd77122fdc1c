"""The multi-label TFMA metric's counting and summary, checked by hand."""

import json

import numpy as np
import pytest
import tensorflow_model_analysis as tfma

from components import features
from components import multilabel_metrics

TRUTH = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1], [0, 1, 0]], bool)
PROBABILITIES = np.array([[0.9, 0.2, 0.1], [0.8, 0.4, 0.3], [0.2, 0.1, 0.7], [0.6, 0.3, 0.2]])
PREDICTED = PROBABILITIES >= 0.5


def _summary():
  accumulator = multilabel_metrics._Accumulator(3)  # pylint: disable=protected-access
  for truth, predicted, probabilities in zip(TRUTH, PREDICTED, PROBABILITIES):
    accumulator.add(truth, predicted, probabilities)
  return multilabel_metrics.summarize(accumulator)


def test_per_label_and_macro_metrics():
  values = _summary()
  per_label = values[multilabel_metrics.PER_LABEL]
  assert per_label['support'] == [2, 2, 1]
  # Label 0: predicted for examples 0, 1, 3 (3 is wrong); label 1 never; label 2 right.
  np.testing.assert_allclose(per_label['precision'], [2 / 3, 0, 1])
  np.testing.assert_allclose(per_label['recall'], [1, 0, 1])
  np.testing.assert_allclose(per_label['f1'], [0.8, 0, 1])
  assert values['macro_f1'] == pytest.approx((0.8 + 0 + 1) / 3)
  assert values['subset_accuracy'] == pytest.approx(2 / 4)
  assert values['hamming_loss'] == pytest.approx(3 / 12)  # (3,0) FP; (1,1), (3,1) FN


def test_micro_metrics_count_every_label_decision():
  values = _summary()
  # 3 true positives, 1 false positive ((3,0)), 2 false negatives ((1,1), (3,1)).
  assert values['micro_precision'] == pytest.approx(3 / 4)
  assert values['micro_recall'] == pytest.approx(3 / 5)
  assert values['micro_f1'] == pytest.approx(2 * 3 / (2 * 3 + 1 + 2))
  assert values['binary_accuracy'] == pytest.approx(9 / 12)
  # Of the 5 x 7 positive-negative pairs, the positive scores higher in all but two
  # (0.3 and 0.4 < 0.6) and ties one (0.3, counted half): AUC 32.5 / 35.
  assert values['micro_auc'] == pytest.approx(32.5 / 35)


def test_precision_and_recall_at_k():
  values = _summary()
  assert values['precision_at_1'] == pytest.approx(3 / 4)
  assert values['recall_at_1'] == pytest.approx((1 + 0.5 + 1 + 0) / 4)
  assert values['recall_at_3'] == pytest.approx(1.0)
  assert values['precision_at_3'] == pytest.approx(5 / 12)


def test_auc_and_confusions():
  per_label = _summary()[multilabel_metrics.PER_LABEL]
  # Label 0: positives 0.9, 0.8 above every negative (0.2, 0.6): AUC 1.
  assert per_label['auc'][0] == pytest.approx(1.0)
  # Label 1: positives 0.4, 0.3; negatives 0.2, 0.1: AUC 1 although never predicted.
  assert per_label['auc'][1] == pytest.approx(1.0)
  # Example 3 has label 1 but got label 0: one confusion, true 1 -> predicted 0.
  assert per_label['confusions'] == [{'true': 1, 'predicted': 0, 'count': 1}]
  curve = per_label['threshold_curve']
  assert curve['recall'][0] == pytest.approx(1.0)  # threshold 0 predicts everything
  # At 0.5: scores 0.9, 0.8, 0.7 are true labels, 0.6 is not.
  assert curve['precision'][50] == pytest.approx(3 / 4)
  assert curve['recall'][50] == pytest.approx(3 / 5)


def test_metric_runs_inside_tfma_with_two_outputs():
  eval_config = tfma.EvalConfig(
      model_specs=[tfma.ModelSpec(label_keys={
          features.DECISION_SCORES_KEY: 'labels', features.PROBABILITIES_KEY: 'labels'})],
      metrics_specs=tfma.metrics.specs_from_metrics([multilabel_metrics.MultiLabelMetrics()]))
  [computation] = multilabel_metrics.MultiLabelMetrics().computations(eval_config=eval_config)
  combiner = computation.combiner
  accumulator = combiner.create_accumulator()
  for truth, probabilities in zip(TRUTH, PROBABILITIES):
    element = tfma.metrics.StandardMetricInputs(
        labels={features.DECISION_SCORES_KEY: truth.astype(float),
                features.PROBABILITIES_KEY: truth.astype(float)},
        predictions={features.DECISION_SCORES_KEY: probabilities,
                     features.PROBABILITIES_KEY: probabilities},
        example_weights=None)
    accumulator = combiner.add_input(accumulator, element)
  output = combiner.extract_output(combiner.merge_accumulators([accumulator, None]))
  by_name = {key.name: value for key, value in output.items()}
  assert by_name['macro_f1'] == pytest.approx((0.8 + 0 + 1) / 3)
  assert by_name['micro_f1'] == pytest.approx(2 / 3)
  assert json.loads(by_name[multilabel_metrics.PER_LABEL])['support'] == [2, 2, 1]
