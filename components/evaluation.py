"""TFMA configuration of the Evaluator: what is measured, on which slices, and what
blesses a model.

The model's `serve_examples` signature has two outputs:
- `decision_scores`: 0.5 is each label's tuned threshold, so precision, recall, F1
  and binary accuracy at 0.5 are those of the decisions the model really makes;
- `probabilities`: for ranking metrics (AUC, precision@k).
`MultiLabelMetrics` reads both and computes every quality figure, micro, macro, per
label and per example, in one pass over arrays (TFMA's built-in binary metrics
would flatten the label vector into a Python tuple per label: most of the
Evaluator's time); TFMA adds the example count. Slices: the number of true labels,
the abstract's length and the primary (first-listed) label, computed by the model's
`transform_features` signature with `slice_features` below.

A model is blessed when, on the test split, all of these hold (TFMA's thresholds,
on the overall slice):
- unless `beat_label_priors` is off, it beats the label-priors baseline (train's
  label shares for every paper, which the model exports as a third output) on
  micro-F1 and on precision@1: the lower
  bound of the 95% paired-bootstrap interval of each lift is above zero, so a model
  that learnt no more than the label mix is refused whatever its micro-F1;
- its micro-F1 reaches `min_micro_f1`;
- once a model has been blessed before, its micro-F1 is no worse than that one's by
  more than `max_micro_f1_regression` (TFMA's baseline model: the latest blessed).
Binary accuracy is reported, never used to bless: an empty prediction already scores
~98.6% on this data.
"""

from typing import Dict

from google.protobuf import wrappers_pb2
import tensorflow as tf
import tensorflow_model_analysis as tfma

from components import features
from components import metrics as metrics_lib
from components import multilabel_metrics

BLESSING_METRIC = 'micro_f1'
# TFMA's bounds are inclusive: a lower bound just above zero asks for one above zero
# (a model no better than the baseline has a bootstrap lower bound of zero or less).
MIN_LIFT_LOWER_BOUND = 1e-6
# Upper bounds (exclusive, in words) of the abstract-length slices.
_LENGTH_BUCKETS = (120, 180, 240)


def slice_features(raw: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
  """Slicing columns of a batch of parsed raw examples, as [batch] strings."""
  labels = tf.RaggedTensor.from_sparse(raw[features.LABELS_KEY])
  label_count = labels.row_lengths()
  words = tf.strings.split(tf.reshape(raw[features.ABSTRACT_KEY], [-1])).row_lengths()
  bucket = tf.searchsorted(tf.constant(_LENGTH_BUCKETS, tf.int64), words, side='right')
  length_names = ([f'<{_LENGTH_BUCKETS[0]} words'] +
                  [f'{low}-{high - 1} words' for low, high in
                   zip(_LENGTH_BUCKETS, _LENGTH_BUCKETS[1:])] +
                  [f'{_LENGTH_BUCKETS[-1]}+ words'])
  return {
      features.LABEL_COUNT_SLICE: tf.where(label_count >= 3, '3+',
                                           tf.strings.as_string(label_count)),
      features.ABSTRACT_LENGTH_SLICE: tf.gather(tf.constant(length_names), bucket),
      features.PRIMARY_LABEL_SLICE: labels[:, :1].to_tensor(default_value='')[:, 0],
  }


def eval_config(min_micro_f1: float, max_micro_f1_regression: float,
                beat_label_priors: bool = True) -> tfma.EvalConfig:
  blessing_threshold = tfma.MetricThreshold(
      value_threshold=tfma.GenericValueThreshold(lower_bound={'value': min_micro_f1}),
      change_threshold=tfma.GenericChangeThreshold(
          direction=tfma.MetricDirection.HIGHER_IS_BETTER,
          absolute={'value': -max_micro_f1_regression}))
  lift_threshold = tfma.MetricThreshold(value_threshold=tfma.GenericValueThreshold(
      lower_bound={'value': MIN_LIFT_LOWER_BOUND}))
  return tfma.EvalConfig(
      model_specs=[
          tfma.ModelSpec(
              signature_name=features.EXAMPLES_SIGNATURE,
              preprocessing_function_names=[features.TRANSFORM_SIGNATURE],
              label_keys={
                  features.DECISION_SCORES_KEY: features.MULTI_HOT_LABELS_KEY,
                  features.PROBABILITIES_KEY: features.MULTI_HOT_LABELS_KEY,
                  features.PRIOR_DECISION_SCORES_KEY: features.MULTI_HOT_LABELS_KEY,
              })
      ],
      slicing_specs=[tfma.SlicingSpec()] + [
          tfma.SlicingSpec(feature_keys=[key]) for key in (
              features.LABEL_COUNT_SLICE, features.ABSTRACT_LENGTH_SLICE,
              features.PRIMARY_LABEL_SLICE)
      ],
      # The Keras model's compiled metrics expect a single label; ours are above.
      options=tfma.Options(include_default_metrics=wrappers_pb2.BoolValue(value=False)),
      # One spec, no output names: every figure is filed under output '', so
      # `get_metrics_for_slice(())` gives the example count beside the rest (the
      # count reads no output; the other metrics read both outputs themselves).
      metrics_specs=[
          # TFMA ties a threshold to the keys named after the metric's instance:
          # named after the blessing metric, it is that one of its figures the
          # threshold judges. On the overall slice only: a plain `threshold` would
          # apply to every slice, and a rare primary label would veto the whole model.
          tfma.MetricsSpec(metrics=[tfma.MetricConfig(class_name='ExampleCount'),
                                    tfma.MetricConfig(
              class_name=multilabel_metrics.MultiLabelMetrics.__name__,
              module=multilabel_metrics.__name__,
              config=f'"name": "{BLESSING_METRIC}"',
              per_slice_thresholds=[_overall(blessing_threshold)])] + [
                  # Named after the lift's lower bound: that is what is judged.
                  tfma.MetricConfig(
                      class_name=multilabel_metrics.LiftOverPriors.__name__,
                      module=multilabel_metrics.__name__,
                      config=f'"metric": "{metric}"',
                      per_slice_thresholds=[_overall(lift_threshold)])
                  for metric in metrics_lib.LIFT_METRICS if beat_label_priors]),
      ])


def _overall(threshold: tfma.MetricThreshold) -> tfma.PerSliceMetricThreshold:
  return tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=threshold)


def load_overall_metrics(evaluation_uri: str) -> Dict[str, float]:
  """The candidate model's metrics on the whole test split, by metric name."""
  metrics = {}
  for slice_metrics in tfma.load_metrics(evaluation_uri):
    if slice_metrics.slice_key.single_slice_keys:
      continue  # A slice; this is the overall view.
    for entry in slice_metrics.metric_keys_and_values:
      if (entry.key.is_diff or entry.key.model_name not in ('', 'candidate') or
          entry.key.HasField('sub_key')):  # Per-label figures are not the overall ones.
        continue
      if entry.value.HasField('double_value'):
        metrics[entry.key.name] = entry.value.double_value.value
  return dict(sorted(metrics.items()))
