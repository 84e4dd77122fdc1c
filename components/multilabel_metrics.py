"""A TFMA metric for multi-label classifiers: micro, per label, per example, per confusion.

TFMA's built-in binary metrics flatten the label vector into one Python tuple per
label and example (micro averages) or need the label ids written into the
EvalConfig, which cannot know how many labels Transform will find. Flattened, 149
labels made them most of the Evaluator's time (profiled on 1,000 papers: 52 s of an
81 s run, this metric 5 s; without them the run takes 14 s instead of 59). `MultiLabelMetrics` reads the
model's two outputs once per example, as arrays, and yields:
- scalars, which TFMA compares with the baseline model: micro precision / recall /
  F1 (the blessing metric) and binary accuracy at the model's thresholds, micro
  AUC (a 10,000-bin score histogram, as TFMA's AUC), macro precision / recall / F1
  (over the labels present), subset accuracy, Hamming loss, precision@k and
  recall@k;
- per label, under TFMA's sub-key `class_id` (the label's id in Transform's label
  vocabulary), its `support`, `precision`, `recall`, `f1` (at the model's own
  thresholds) and `auc`: `get_metrics_for_slice(slice, class_id=N)` and TFMA's
  slicing browser show, sort and compare them, on every slice;
- `per_label`, a JSON document: the most frequent confusions (a true label missed
  while another, false one was predicted) and the micro precision / recall at every
  threshold of a 100-step grid;
- TFMA plots, which `tfma.load_plots` reads and `tfma.view.render_plot` draws: on
  every slice a calibration plot of all labels' scores and a multi-label confusion
  matrix of its `PLOTTED_LABELS` most frequent labels at the model's decisions; per
  label (`class_id`) of those, its confusion matrix at 100 thresholds (precision-
  recall) and its calibration plot. From the same histograms, no pass of their own.

With the model's third output, `prior_decision_scores` (the label-priors baseline:
every paper gets train's label shares, at the threshold that suits eval), the same
pass also counts, per example, what the model's and the baseline's micro-F1 and
precision@1 add up, and bootstraps their differences (a private figure, not
written). `LiftOverPriors` publishes one of them, `metrics.LIFT_METRICS`' lift with
its 95% paired-bootstrap interval, as a TFMA derived metric: named after the lower
bound, the figure a blessing threshold judges (TFMA ties a MetricConfig's threshold
to the key named after the instance), and sharing `MultiLabelMetrics`' pass (TFMA
runs identical computations once). Models exported before that output get no lift
figures.
"""

import json
from typing import Any, Dict, Iterable, List, Optional

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types
from tensorflow_model_analysis.metrics import metric_util
from tensorflow_model_analysis.proto import config_pb2
from tensorflow_model_analysis.proto import metrics_for_slice_pb2

from components import features
from components import metrics as metrics_lib

NAME = 'multi_label'
PER_LABEL = 'per_label'
# Figures of each label, filed under sub-key class_id = the label's id.
LABEL_METRICS = ('support', 'precision', 'recall', 'f1', 'auc')
# Private (a leading '_': TFMA does not write it): {metric: interval} of the lifts.
_LIFTS = '_lifts_over_priors'
TOP_KS = (1, 3, 5)
_BINS = 100  # Probability histogram per label: AUC and the threshold curve.
_MICRO_BINS = 10_000  # All labels' scores together: micro AUC.
_TOP_CONFUSIONS = 20
# Labels per slice with plots of their own, and in the multi-label confusion matrix:
# the slice's most frequent (all 149 on 17 slices would make the plots file tens of
# megabytes).
PLOTTED_LABELS = 10
# TFMA's own plot names: the writer files every plot of one (model, output, sub-key)
# under these in one PlotData, where `render_plot` finds them.
_CALIBRATION_PLOT = 'calibration_plot'
_CONFUSION_PLOT = 'confusion_matrix_plot'


class MultiLabelMetrics(metric_types.Metric):
  """Per-label and example-based metrics; see the module docstring."""

  def __init__(self, name: str = NAME):
    super().__init__(metric_util.merge_per_key_computations(_computations), name=name)


def lift_name(metric: str, bound: str = '') -> str:
  """The name of `metric`'s lift over label priors; bound '' (the estimate), 'lower'
  or 'upper' (of its 95% interval)."""
  return f'{metric}_lift_over_priors' + (f'_{bound}' if bound else '')


class LiftOverPriors(metric_types.Metric):
  """`metric`'s lift over the label-priors baseline; see the module docstring."""

  def __init__(self, metric: str = 'micro_f1'):
    if metric not in metrics_lib.LIFT_METRICS:
      raise ValueError(f'LiftOverPriors: metric must be one of {metrics_lib.LIFT_METRICS}, '
                       f'got {metric!r}')
    super().__init__(metric_util.merge_per_key_computations(_lift_computations),
                     name=lift_name(metric, 'lower'), metric=metric)


metric_types.register_metric(MultiLabelMetrics)
metric_types.register_metric(LiftOverPriors)


def scalar_names() -> List[str]:
  return (['micro_precision', 'micro_recall', 'micro_f1', 'binary_accuracy', 'micro_auc',
           'macro_precision', 'macro_recall', 'macro_f1', 'subset_accuracy', 'hamming_loss'] +
          [f'{kind}_at_{k}' for k in TOP_KS for kind in ('precision', 'recall')])


def _computations(name: str = NAME, eval_config: Optional[config_pb2.EvalConfig] = None,
                  model_name: str = '', output_name: str = '',
                  example_weighted: bool = False) -> metric_types.MetricComputations:
  del name
  keys = {metric: metric_types.MetricKey(name=metric, model_name=model_name,
                                         output_name=output_name,
                                         example_weighted=example_weighted)
          for metric in scalar_names() + [PER_LABEL, _LIFTS]}
  return [metric_types.MetricComputation(
      keys=list(keys.values()), preprocessors=None,
      combiner=_Combiner(keys, eval_config, model_name))]


def label_key(key: metric_types.MetricKey, metric: str,
              class_id: int) -> metric_types.MetricKey:
  """`metric` of label `class_id`, for the model and output of `key`."""
  return metric_types.MetricKey(name=metric, sub_key=metric_types.SubKey(class_id=class_id),
                                model_name=key.model_name, output_name=key.output_name,
                                example_weighted=key.example_weighted)


def _lift_computations(name: str, metric: str,
                       eval_config: Optional[config_pb2.EvalConfig] = None,
                       model_name: str = '', output_name: str = '',
                       example_weighted: bool = False) -> metric_types.MetricComputations:
  """`MultiLabelMetrics`' computation (TFMA runs it once) and `metric`'s lift from it."""
  [base] = _computations(eval_config=eval_config, model_name=model_name,
                         output_name=output_name, example_weighted=example_weighted)
  lifts = next(key for key in base.keys if key.name == _LIFTS)
  # The instance's name is the lower bound's, which thresholds judge.
  names = {'estimate': lift_name(metric), 'low': name, 'high': lift_name(metric, 'upper')}
  keys = {bound: metric_types.MetricKey(name=key_name, model_name=model_name,
                                        output_name=output_name,
                                        example_weighted=example_weighted)
          for bound, key_name in names.items()}

  def result(metrics: Dict[metric_types.MetricKey, Any]) -> Dict[metric_types.MetricKey, float]:
    if lifts not in metrics:
      return {}  # A model exported without the baseline.
    return {key: metrics[lifts][metric][bound] for bound, key in keys.items()}

  return [base, metric_types.DerivedMetricComputation(keys=list(keys.values()),
                                                      result=result)]


class _Accumulator:
  """Counts over the examples seen; sized on the first example."""

  def __init__(self, num_labels: int):
    self.examples = 0
    self.true_positives = np.zeros(num_labels)
    self.false_positives = np.zeros(num_labels)
    self.false_negatives = np.zeros(num_labels)
    self.exact_matches = 0
    self.hits_at_k = {k: 0.0 for k in TOP_KS}  # Sum of |top k ∩ true| / k.
    self.recall_at_k = {k: 0.0 for k in TOP_KS}  # Sum of |top k ∩ true| / |true|.
    self.examples_with_labels = 0
    self.positive_histogram = np.zeros((num_labels, _BINS))
    self.negative_histogram = np.zeros((num_labels, _BINS))
    self.confusions = np.zeros((num_labels, num_labels))  # [missed true, false predicted]
    self.score_sums = np.zeros((num_labels, _BINS))  # Sum of the scores in each bin.
    # [true positives, false negatives, false positives, true negatives] of each label
    # (column) over the papers that have each label (row): the multi-label confusion.
    self.cooccurrence = np.zeros((4, num_labels, num_labels))
    self.micro_positive_histogram = np.zeros(_MICRO_BINS)
    self.micro_negative_histogram = np.zeros(_MICRO_BINS)
    # Per example with the baseline's scores: true labels, then the model's and the
    # baseline's `metrics.example_counts`. Kept whole for the bootstrap.
    self.prior_rows: List[np.ndarray] = []

  def add(self, truth: np.ndarray, predicted: np.ndarray, probabilities: np.ndarray,
          prior_scores: Optional[np.ndarray] = None):
    self.examples += 1
    self.true_positives += truth & predicted
    self.false_positives += ~truth & predicted
    self.false_negatives += truth & ~predicted
    self.exact_matches += int((truth == predicted).all())
    ranked = np.argsort(-probabilities, kind='stable')
    true_count = truth.sum()
    for k in TOP_KS:
      hits = truth[ranked[:k]].sum()
      self.hits_at_k[k] += hits / k
      if true_count:
        self.recall_at_k[k] += hits / true_count
    self.examples_with_labels += int(true_count > 0)
    bins = np.minimum((probabilities * _BINS).astype(int), _BINS - 1)
    rows = np.arange(len(truth))
    np.add.at(self.positive_histogram, (rows[truth], bins[truth]), 1)
    np.add.at(self.negative_histogram, (rows[~truth], bins[~truth]), 1)
    np.add.at(self.score_sums, (rows, bins), probabilities)
    self.cooccurrence[:, truth, :] += np.stack([truth & predicted, truth & ~predicted,
                                                ~truth & predicted, ~truth & ~predicted])[:, None]
    micro_bins = np.minimum((probabilities * _MICRO_BINS).astype(int), _MICRO_BINS - 1)
    np.add.at(self.micro_positive_histogram, micro_bins[truth], 1)
    np.add.at(self.micro_negative_histogram, micro_bins[~truth], 1)
    missed, wrong = np.flatnonzero(truth & ~predicted), np.flatnonzero(~truth & predicted)
    if len(missed) and len(wrong):
      self.confusions[np.ix_(missed, wrong)] += 1
    if prior_scores is not None:
      # Each ranks by its own scores: the baseline's keep train's label shares' order.
      counts = metrics_lib.example_counts(
          np.stack([truth, truth]), np.stack([predicted, prior_scores >= 0.5]),
          np.array([ranked[0], np.argmax(prior_scores)]))
      self.prior_rows.append(np.concatenate([[true_count], counts.reshape(-1)]))

  def merge(self, other: '_Accumulator'):
    for field, value in vars(other).items():
      mine = getattr(self, field)
      if isinstance(value, dict):
        for k in value:
          mine[k] += value[k]
      else:
        setattr(self, field, mine + value)


class _Combiner(beam.CombineFn):
  """Reads decisions from `decision_scores` (>= 0.5) and ranks `probabilities`."""

  def __init__(self, keys: Dict[str, metric_types.MetricKey],
               eval_config: Optional[config_pb2.EvalConfig], model_name: str):
    self._keys = keys
    self._eval_config = eval_config
    self._model_name = model_name

  def _output(self, element, output_name: str):
    label, prediction, _ = next(metric_util.to_label_prediction_example_weight(
        element, eval_config=self._eval_config, model_name=self._model_name,
        output_name=output_name, flatten=False))
    return np.asarray(label).reshape(-1) >= 0.5, np.asarray(prediction, float).reshape(-1)

  def _has_output(self, element, output_name: str) -> bool:
    """Whether this model has `output_name`: with a baseline model, TFMA nests each
    model's outputs under its name."""
    predictions = element.predictions
    if self._model_name in predictions:
      predictions = predictions[self._model_name]
    return output_name in predictions

  def create_accumulator(self) -> Optional[_Accumulator]:
    return None

  def add_input(self, accumulator: Optional[_Accumulator],
                element: metric_types.StandardMetricInputs) -> _Accumulator:
    truth, decisions = self._output(element, features.DECISION_SCORES_KEY)
    _, probabilities = self._output(element, features.PROBABILITIES_KEY)
    prior_scores = None
    if self._has_output(element, features.PRIOR_DECISION_SCORES_KEY):
      _, prior_scores = self._output(element, features.PRIOR_DECISION_SCORES_KEY)
    accumulator = accumulator or _Accumulator(len(truth))
    accumulator.add(truth, decisions >= 0.5, probabilities, prior_scores)
    return accumulator

  def merge_accumulators(self, accumulators: Iterable[Optional[_Accumulator]]):
    result = None
    for accumulator in accumulators:
      if accumulator is None:
        continue
      if result is None:
        result = accumulator
      else:
        result.merge(accumulator)
    return result

  def extract_output(self, accumulator: Optional[_Accumulator]) -> Dict[Any, Any]:
    if accumulator is None or not accumulator.examples:
      return {}
    values = summarize(accumulator)
    output = {self._keys[name]: values[name] for name in scalar_names()}
    # The label count is known only now, from the first example: TFMA writes the
    # keys a combiner returns, declared or not.
    per_label = self._keys[PER_LABEL]
    output.update({label_key(per_label, metric, class_id): value
                   for metric in LABEL_METRICS
                   for class_id, value in enumerate(values[metric]) if value is not None})
    output[per_label] = json.dumps(values[PER_LABEL])
    output.update(_plots(accumulator, per_label))
    if _LIFTS in values:
      output[self._keys[_LIFTS]] = values[_LIFTS]
    return output


def summarize(a: _Accumulator) -> Dict[str, Any]:
  """Turns the counts into the metrics."""
  tp, fp, fn = a.true_positives, a.false_positives, a.false_negatives
  support = tp + fn
  precision = _divide(tp, tp + fp)
  recall = _divide(tp, support)
  f1 = _divide(2 * tp, 2 * tp + fp + fn)
  present = support > 0
  values = {
      'micro_precision': float(_divide(tp.sum(), tp.sum() + fp.sum())),
      'micro_recall': float(_divide(tp.sum(), support.sum())),
      'micro_f1': float(_divide(2 * tp.sum(), 2 * tp.sum() + fp.sum() + fn.sum())),
      'binary_accuracy': float(1 - (fp + fn).sum() / (a.examples * len(tp))),
      'micro_auc': _auc(a.micro_positive_histogram, a.micro_negative_histogram),
      'macro_precision': float(precision[present].mean()) if present.any() else 0.0,
      'macro_recall': float(recall[present].mean()) if present.any() else 0.0,
      'macro_f1': float(f1[present].mean()) if present.any() else 0.0,
      'subset_accuracy': a.exact_matches / a.examples,
      'hamming_loss': float((fp + fn).sum() / (a.examples * len(tp))),
  }
  for k in TOP_KS:
    values[f'precision_at_{k}'] = a.hits_at_k[k] / a.examples
    values[f'recall_at_{k}'] = a.recall_at_k[k] / max(a.examples_with_labels, 1)
  if a.prior_rows:
    # Sorted: TFMA merges the examples in no fixed order, and the order decides which
    # resample draws which example.
    rows = np.stack(a.prior_rows)
    rows = rows[np.lexsort(rows.T[::-1])]
    values[_LIFTS] = metrics_lib.paired_lift(rows[:, 0], rows[:, 1:4], rows[:, 4:7])
  pairs = np.argwhere(a.confusions > 0)
  order = np.argsort(-a.confusions[a.confusions > 0], kind='stable')[:_TOP_CONFUSIONS]
  # Counts above each bin's lower edge, summed over labels: the micro curve.
  positives_above = a.positive_histogram[:, ::-1].cumsum(axis=1)[:, ::-1]
  negatives_above = a.negative_histogram[:, ::-1].cumsum(axis=1)[:, ::-1]
  values.update({
      'support': support.tolist(),
      'precision': precision.tolist(),
      'recall': recall.tolist(),
      'f1': f1.tolist(),
      'auc': [_auc(p, n) for p, n in zip(a.positive_histogram, a.negative_histogram)],
  })
  values[PER_LABEL] = {
      'examples': a.examples,
      'confusions': [{'true': int(pairs[i][0]), 'predicted': int(pairs[i][1]),
                      'count': int(a.confusions[tuple(pairs[i])])} for i in order],
      'threshold_curve': {
          'thresholds': (np.arange(_BINS) / _BINS).tolist(),
          'precision': _divide(positives_above.sum(0),
                               positives_above.sum(0) + negatives_above.sum(0)).tolist(),
          'recall': _divide(positives_above.sum(0), support.sum()).tolist(),
      },
  }
  return values


def _plots(a: _Accumulator, key: metric_types.MetricKey) -> Dict[metric_types.PlotKey, Any]:
  """TFMA's plot protos of the slice, by plot key (see the module docstring)."""
  def plot_key(name, class_id=None):
    return metric_types.PlotKey(
        name=name, model_name=key.model_name, output_name=key.output_name,
        sub_key=None if class_id is None else metric_types.SubKey(class_id=class_id),
        example_weighted=key.example_weighted)

  support = a.true_positives + a.false_negatives
  plotted = np.argsort(-support, kind='stable')[:PLOTTED_LABELS]
  plotted = plotted[support[plotted] > 0]
  entries = [
      metrics_for_slice_pb2.MultiLabelConfusionMatrixAtThresholds.MultiLabelConfusionMatrixEntry(
          actual_class_id=int(actual), predicted_class_id=int(predicted),
          true_positives=tp, false_negatives=fn, false_positives=fp, true_negatives=tn)
      for actual in plotted for predicted in plotted
      for tp, fn, fp, tn in [a.cooccurrence[:, actual, predicted]]]
  plots = {
      plot_key(_CALIBRATION_PLOT): _calibration(a.positive_histogram.sum(0),
                                                a.negative_histogram.sum(0),
                                                a.score_sums.sum(0)),
      # Decisions are decision scores >= 0.5: each label at its own tuned threshold.
      plot_key(_CONFUSION_PLOT): metrics_for_slice_pb2.MultiLabelConfusionMatrixAtThresholds(
          matrices=[metrics_for_slice_pb2.MultiLabelConfusionMatrixAtThresholds
                    .MultiLabelConfusionMatrix(threshold=0.5, entries=entries)]),
  }
  for label in plotted:
    plots[plot_key(_CALIBRATION_PLOT, int(label))] = _calibration(
        a.positive_histogram[label], a.negative_histogram[label], a.score_sums[label])
    plots[plot_key(_CONFUSION_PLOT, int(label))] = _threshold_matrices(
        a.positive_histogram[label], a.negative_histogram[label], a.examples)
  return plots


def _calibration(positives: np.ndarray, negatives: np.ndarray,
                 score_sums: np.ndarray) -> metrics_for_slice_pb2.CalibrationHistogramBuckets:
  """TFMA's calibration histogram: per score bin, the scores' sum against the labels'."""
  bucket = metrics_for_slice_pb2.CalibrationHistogramBuckets.Bucket
  return metrics_for_slice_pb2.CalibrationHistogramBuckets(buckets=[
      bucket(lower_threshold_inclusive=index / _BINS,
             upper_threshold_exclusive=(index + 1) / _BINS,
             num_weighted_examples={'value': float(positive + negative)},
             total_weighted_label={'value': float(positive)},
             total_weighted_refined_prediction={'value': float(score_sum)})
      for index, (positive, negative, score_sum) in enumerate(
          zip(positives, negatives, score_sums))])


def _threshold_matrices(positives: np.ndarray, negatives: np.ndarray,
                        examples: int) -> metrics_for_slice_pb2.ConfusionMatrixAtThresholds:
  """One label's confusion matrix at each threshold of the score bins' lower edges."""
  true_positives = positives[::-1].cumsum()[::-1]  # Scores at or above each edge.
  false_positives = negatives[::-1].cumsum()[::-1]
  false_negatives = positives.sum() - true_positives
  true_negatives = negatives.sum() - false_positives
  precision = _divide(true_positives, true_positives + false_positives)
  recall = _divide(true_positives, positives.sum())
  matrix = metrics_for_slice_pb2.ConfusionMatrixAtThresholds.ConfusionMatrixAtThreshold
  return metrics_for_slice_pb2.ConfusionMatrixAtThresholds(matrices=[
      matrix(threshold=index / _BINS, true_positives=tp, false_positives=fp,
             false_negatives=fn, true_negatives=tn, precision=p, recall=r,
             f1=float(_divide(2 * p * r, p + r)),
             false_positive_rate=float(_divide(fp, negatives.sum())),
             accuracy=(tp + tn) / examples)
      for index, (tp, fp, fn, tn, p, r) in enumerate(zip(
          true_positives, false_positives, false_negatives, true_negatives, precision,
          recall))])


def _auc(positives: np.ndarray, negatives: np.ndarray) -> Optional[float]:
  """ROC AUC from score histograms (ties within a bin count half); None if undefined."""
  total_positive, total_negative = positives.sum(), negatives.sum()
  if not total_positive or not total_negative:
    return None
  positives_above = np.concatenate([positives[::-1].cumsum()[::-1][1:], [0.0]])
  return float((negatives * (positives_above + positives / 2)).sum() /
               (total_positive * total_negative))


def _divide(numerator, denominator) -> np.ndarray:
  numerator, denominator = np.asarray(numerator, float), np.asarray(denominator, float)
  return np.divide(numerator, denominator, out=np.zeros_like(numerator),
                   where=denominator > 0)
