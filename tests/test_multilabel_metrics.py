"""The multi-label TFMA metric's counting and summary, checked by hand."""

import json

import numpy as np
import pytest
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.evaluators import metrics_validator
from tensorflow_model_analysis.metrics import metric_specs

from components import evaluation
from components import export
from components import features
from components import metrics as metrics_lib
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
  per_label = values = _summary()
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
  values = _summary()
  per_label = values[multilabel_metrics.PER_LABEL]
  # Label 0: positives 0.9, 0.8 above every negative (0.2, 0.6): AUC 1.
  assert values['auc'][0] == pytest.approx(1.0)
  # Label 1: positives 0.4, 0.3; negatives 0.2, 0.1: AUC 1 although never predicted.
  assert values['auc'][1] == pytest.approx(1.0)
  # Example 3 has label 1 but got label 0: one confusion, true 1 -> predicted 0.
  assert per_label['confusions'] == [{'true': 1, 'predicted': 0, 'count': 1}]
  curve = per_label['threshold_curve']
  assert curve['recall'][0] == pytest.approx(1.0)  # threshold 0 predicts everything
  # At 0.5: scores 0.9, 0.8, 0.7 are true labels, 0.6 is not.
  assert curve['precision'][50] == pytest.approx(3 / 4)
  assert curve['recall'][50] == pytest.approx(3 / 5)


def test_plots_are_tfma_protos_drawn_from_the_same_counts():
  accumulator = multilabel_metrics._Accumulator(3)  # pylint: disable=protected-access
  for truth, predicted, probabilities in zip(TRUTH, PREDICTED, PROBABILITIES):
    accumulator.add(truth, predicted, probabilities)
  key = tfma.metrics.MetricKey(name=multilabel_metrics.PER_LABEL)
  plots = multilabel_metrics._plots(accumulator, key)  # pylint: disable=protected-access
  by_label = {(k.name, k.sub_key.class_id if k.sub_key else None): v for k, v in plots.items()}
  # Labels 0 and 1 have two papers each, label 2 one: all three are plotted.
  assert set(by_label) == {(name, label) for name in ('calibration_plot', 'confusion_matrix_plot')
                           for label in (None, 0, 1, 2)}
  buckets = by_label['calibration_plot', None].buckets
  assert sum(b.num_weighted_examples.value for b in buckets) == 12  # 4 papers x 3 labels
  assert sum(b.total_weighted_label.value for b in buckets) == 5
  assert sum(b.total_weighted_refined_prediction.value for b in buckets) == pytest.approx(
      PROBABILITIES.sum())
  # Label 0 at 0.5: scores 0.9, 0.8 are its papers, 0.6 is not.
  at_half = by_label['confusion_matrix_plot', 0].matrices[50]
  assert (at_half.threshold, at_half.true_positives, at_half.false_positives,
          at_half.false_negatives, at_half.true_negatives) == (0.5, 2, 1, 0, 1)
  assert at_half.precision == pytest.approx(2 / 3) and at_half.recall == 1
  # Papers with label 1 (1 and 3): label 0 predicted for both, rightly for paper 1 only.
  [matrix] = by_label['confusion_matrix_plot', None].matrices
  entry = next(e for e in matrix.entries if (e.actual_class_id, e.predicted_class_id) == (1, 0))
  assert (entry.true_positives, entry.false_positives, entry.false_negatives,
          entry.true_negatives) == (1, 1, 0, 0)


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
  by_name = {key.name: value for key, value in output.items() if not key.sub_key}
  assert by_name['macro_f1'] == pytest.approx((0.8 + 0 + 1) / 3)
  assert by_name['micro_f1'] == pytest.approx(2 / 3)
  assert json.loads(by_name[multilabel_metrics.PER_LABEL])['confusions'] == [
      {'true': 1, 'predicted': 0, 'count': 1}]
  # Each label's figures under TFMA's class_id sub-key, as get_metrics_for_slice reads.
  by_label = {(key.name, key.sub_key.class_id): value for key, value in output.items()
              if key.sub_key and not isinstance(key, tfma.metrics.PlotKey)}
  assert {name for name, _ in by_label} == set(multilabel_metrics.LABEL_METRICS)
  assert [by_label['support', class_id] for class_id in range(3)] == [2, 2, 1]
  np.testing.assert_allclose([by_label['f1', class_id] for class_id in range(3)], [0.8, 0, 1])
  assert by_label['auc', 0] == pytest.approx(1.0)


# Label shares of a training set: the label-priors baseline predicts label 0 alone
# (its decision score is 0.5 at the share 0.6) and ranks label 0 first.
PRIORS = np.array([0.6, 0.3, 0.05])
PRIOR_SCORES = export.decision_scores(PRIORS, np.float64(0.6)).numpy()


def _gate_metrics(truth, probabilities, decisions, blessed_before=None):
  """The candidate's metrics under the Evaluator's EvalConfig on these examples, by
  name, and TFMA's validation of them against the config's thresholds. With
  `blessed_before` (its probabilities), a latest blessed model exported without the
  baseline's output is TFMA's baseline model, as after an upgrade."""
  eval_config = tfma.utils.update_eval_config_with_defaults(
      evaluation.eval_config(min_micro_f1=0.2, max_micro_f1_regression=0.01),
      has_baseline=blessed_before is not None, rubber_stamp=True)
  elements = [_element(*example) for example in zip(truth, probabilities, decisions)]
  if blessed_before is not None:
    for i, element in enumerate(elements):
      old = {features.DECISION_SCORES_KEY: blessed_before[i],
             features.PROBABILITIES_KEY: blessed_before[i]}
      elements[i] = tfma.metrics.StandardMetricInputs(
          labels=element.labels, example_weights=None,
          predictions={tfma.CANDIDATE_KEY: element.predictions, tfma.BASELINE_KEY: old})
  metrics = _run(metric_specs.to_computations(list(eval_config.metrics_specs), eval_config),
                 elements)
  # As TFMA's evaluator: each scalar's change from the baseline model.
  metrics.update({key.make_diff_key(): value - metrics[key.make_baseline_key(tfma.BASELINE_KEY)]
                  for key, value in list(metrics.items())
                  if key.model_name == tfma.CANDIDATE_KEY and isinstance(value, float) and
                  key.make_baseline_key(tfma.BASELINE_KEY) in metrics})
  return ({key.name: value for key, value in metrics.items()
           if key.model_name in ('', tfma.CANDIDATE_KEY) and not key.is_diff},
          metrics_validator.validate_metrics(((), metrics), eval_config))


def _run(computations, elements, parts=1):
  """What TFMA's evaluator does with `computations`: each distinct combiner over the
  elements (split into `parts` merged accumulators), then the derived metrics."""
  metrics = {}
  for computation in dict.fromkeys(c for c in computations
                                   if isinstance(c, tfma.metrics.MetricComputation)):
    combiner = computation.combiner
    accumulators = []
    for part in np.array_split(np.arange(len(elements)), parts):
      accumulator = combiner.create_accumulator()
      for i in part:
        accumulator = combiner.add_input(accumulator, elements[i])
      accumulators.append(accumulator)
    metrics.update(combiner.extract_output(combiner.merge_accumulators(accumulators)))
  for computation in computations:
    if isinstance(computation, tfma.metrics.DerivedMetricComputation):
      metrics.update(computation.result(metrics))
  return metrics


def _element(truth, probabilities, decisions):
  outputs = {features.DECISION_SCORES_KEY: decisions, features.PROBABILITIES_KEY: probabilities,
             features.PRIOR_DECISION_SCORES_KEY: PRIOR_SCORES}
  return tfma.metrics.StandardMetricInputs(
      labels={name: np.asarray(truth, float) for name in outputs}, predictions=outputs,
      example_weights=None)


def _papers(count, seed=0):
  """`count` papers with labels drawn at the PRIORS' rates (at least one each)."""
  rng = np.random.default_rng(seed)
  truth = rng.random((count, 3)) < PRIORS
  truth[~truth.any(axis=1), 0] = True
  return truth


def test_lift_over_priors_counts_the_model_against_the_baseline_on_the_same_papers():
  # Example 3 has label 1 only: the model's top label and decision miss it (label 0),
  # as the baseline's do. Baseline: label 0 for all: TP 2, predicted 4, actual 5.
  metrics, _ = _gate_metrics(TRUTH, PROBABILITIES, PREDICTED.astype(float))
  assert metrics['micro_f1_lift_over_priors'] == pytest.approx(2 * 3 / 9 - 2 * 2 / 9)
  # Top labels: model 0, 0, 2, 0 (3 right); baseline 0 everywhere (2 right).
  assert metrics['precision_at_1_lift_over_priors'] == pytest.approx(3 / 4 - 2 / 4)
  for metric in metrics_lib.LIFT_METRICS:
    lift = multilabel_metrics.lift_name
    assert (metrics[lift(metric, 'lower')] <= metrics[lift(metric)] <=
            metrics[lift(metric, 'upper')])


def test_a_model_at_the_label_priors_level_is_refused_blessing():
  truth = _papers(400)
  # It gives every paper the train shares: what the baseline does, not reading the
  # abstract. Its micro-F1 clears the floor; its lifts are zero.
  same = np.tile(PRIORS, (len(truth), 1))
  metrics, validation = _gate_metrics(truth, same, np.tile(PRIOR_SCORES, (len(truth), 1)))
  assert metrics['micro_f1'] > 0.5
  assert not validation.validation_ok
  refused = {failure.metric_key.name for slice_result in validation.metric_validations_per_slice
             for failure in slice_result.failures}
  assert refused == {multilabel_metrics.lift_name(metric, 'lower')
                     for metric in metrics_lib.LIFT_METRICS}


def test_a_model_that_reads_the_abstract_is_blessed():
  truth = _papers(400)
  rng = np.random.default_rng(1)
  probabilities = np.clip(0.7 * truth + 0.4 * rng.random(truth.shape), 0, 1)
  metrics, validation = _gate_metrics(truth, probabilities, probabilities)
  assert metrics['micro_f1_lift_over_priors_lower'] > 0
  assert metrics['precision_at_1_lift_over_priors_lower'] > 0
  assert validation.validation_ok, validation


def test_with_a_latest_blessed_model_the_candidate_is_judged_on_all_three_checks():
  truth = _papers(400)
  rng = np.random.default_rng(1)
  probabilities = np.clip(0.7 * truth + 0.4 * rng.random(truth.shape), 0, 1)
  worse = np.clip(0.5 * truth + 0.6 * rng.random(truth.shape), 0, 1)
  metrics, validation = _gate_metrics(truth, probabilities, probabilities, worse)
  assert metrics['micro_f1_lift_over_priors_lower'] > 0
  assert validation.validation_ok, validation
  # Against a better blessed model, only the no-regression check fails.
  _, validation = _gate_metrics(truth, worse, worse, probabilities)
  refused = {(failure.metric_key.name, failure.metric_key.is_diff)
             for slice_result in validation.metric_validations_per_slice
             for failure in slice_result.failures}
  assert refused == {('micro_f1', True)}


def test_lift_does_not_depend_on_the_order_tfma_merges_examples_in():
  truth = _papers(60, seed=2)
  rng = np.random.default_rng(3)
  probabilities = np.clip(0.5 * truth + 0.6 * rng.random(truth.shape), 0, 1)
  elements = [_element(*example) for example in zip(truth, probabilities, probabilities)]
  computations = multilabel_metrics.LiftOverPriors('micro_f1').computations(
      eval_config=tfma.EvalConfig(model_specs=[tfma.ModelSpec(label_keys={
          name: 'labels' for name in (features.DECISION_SCORES_KEY, features.PROBABILITIES_KEY,
                                      features.PRIOR_DECISION_SCORES_KEY)})]))

  def lift(order):
    metrics = _run(computations, [elements[i] for i in order], parts=2)
    return {key.name: value for key, value in metrics.items() if key.name.startswith('micro')}

  forward = lift(np.arange(len(truth)))
  assert {'micro_f1', 'micro_f1_lift_over_priors_lower'} <= set(forward)
  assert lift(rng.permutation(len(truth))) == forward
  assert lift(np.arange(len(truth))[::-1]) == forward


def test_a_model_exported_without_the_baseline_gets_no_lift():
  computations = multilabel_metrics.LiftOverPriors('precision_at_1').computations()
  element = tfma.metrics.StandardMetricInputs(
      labels={name: TRUTH[0].astype(float)
              for name in (features.DECISION_SCORES_KEY, features.PROBABILITIES_KEY)},
      predictions={features.DECISION_SCORES_KEY: PROBABILITIES[0],
                   features.PROBABILITIES_KEY: PROBABILITIES[0]}, example_weights=None)
  metrics = _run(computations, [element])
  assert 'micro_f1' in {key.name for key in metrics}
  assert not [key for key in metrics if 'lift' in key.name]
  with pytest.raises(ValueError, match='metric must be one of'):
    multilabel_metrics.LiftOverPriors('macro_f1')
