"""TFMA configuration of the Evaluator: what is measured and what blesses a model.

The model's `serve_examples` signature has two outputs:
- `decision_scores`: 0.5 is each label's tuned threshold, so precision, recall, F1
  and binary accuracy at 0.5 are those of the decisions the model really makes;
- `probabilities`: for ranking metrics (precision@k, AUC).
Metrics over all labels are micro-averaged (TFMA flattens the label vector).

A model is blessed when its micro-F1 on the test split reaches `min_micro_f1` and,
once a model has been blessed before, is no worse than that one by more than
`max_micro_f1_regression`. Binary accuracy is reported, never used to bless: an
empty prediction already scores ~98.6% on this data.
"""

from typing import Dict

from google.protobuf import wrappers_pb2
import tensorflow_model_analysis as tfma

from components import features

BLESSING_METRIC = 'micro_f1'


def eval_config(min_micro_f1: float, max_micro_f1_regression: float) -> tfma.EvalConfig:
  blessing_threshold = tfma.MetricThreshold(
      value_threshold=tfma.GenericValueThreshold(lower_bound={'value': min_micro_f1}),
      change_threshold=tfma.GenericChangeThreshold(
          direction=tfma.MetricDirection.HIGHER_IS_BETTER,
          absolute={'value': -max_micro_f1_regression}))
  decision_metrics = [
      tfma.MetricConfig(class_name='ExampleCount'),
      tfma.MetricConfig(class_name='BinaryAccuracy', config='"name": "binary_accuracy"'),
      tfma.MetricConfig(class_name='Precision', config='"name": "micro_precision"'),
      tfma.MetricConfig(class_name='Recall', config='"name": "micro_recall"'),
      tfma.MetricConfig(class_name='F1Score', config=f'"name": "{BLESSING_METRIC}"',
                        threshold=blessing_threshold),
  ]
  ranking_metrics = [
      tfma.MetricConfig(class_name='AUC', config='"name": "micro_auc"'),
      tfma.MetricConfig(class_name='Precision', config='"name": "precision_at_1", "top_k": 1'),
      tfma.MetricConfig(class_name='Precision', config='"name": "precision_at_3", "top_k": 3'),
      tfma.MetricConfig(class_name='Recall', config='"name": "recall_at_3", "top_k": 3'),
  ]
  return tfma.EvalConfig(
      model_specs=[
          tfma.ModelSpec(
              signature_name=features.EXAMPLES_SIGNATURE,
              preprocessing_function_names=[features.TRANSFORM_SIGNATURE],
              label_keys={
                  features.DECISION_SCORES_KEY: features.MULTI_HOT_LABELS_KEY,
                  features.PROBABILITIES_KEY: features.MULTI_HOT_LABELS_KEY,
              })
      ],
      slicing_specs=[tfma.SlicingSpec()],
      # The Keras model's compiled metrics expect a single label; ours are above.
      options=tfma.Options(include_default_metrics=wrappers_pb2.BoolValue(value=False)),
      metrics_specs=[
          tfma.MetricsSpec(output_names=[features.DECISION_SCORES_KEY],
                           metrics=decision_metrics),
          tfma.MetricsSpec(output_names=[features.PROBABILITIES_KEY],
                           metrics=ranking_metrics),
      ])


def load_overall_metrics(evaluation_uri: str) -> Dict[str, float]:
  """The candidate model's metrics on the whole test split, by metric name."""
  metrics = {}
  for slice_metrics in tfma.load_metrics(evaluation_uri):
    if slice_metrics.slice_key.single_slice_keys:
      continue  # A slice; this is the overall view.
    for entry in slice_metrics.metric_keys_and_values:
      if entry.key.is_diff or entry.key.model_name not in ('', 'candidate'):
        continue
      if entry.value.HasField('double_value'):
        metrics[entry.key.name] = entry.value.double_value.value
  return dict(sorted(metrics.items()))
