"""The evaluation report of a pipeline run: one self-contained HTML file and a summary.

Answers "how good is it, for which labels, and is it better than what is serving
now" without Jupyter: headline metrics and the blessing decision with its reasons,
the data report, training curves, a per-label table and chart, precision / recall
against the threshold, slices, frequent confusions, test examples, and the change
against the previously blessed model. Images are embedded; nothing is fetched.

`gather` reads the run's artifacts, `view` formats every fact once (with the run
summary's formatting functions), and templates/report.html (autoescaped) and
templates/report.md render that view.

`run_local.py` writes it after every run; for any past run:

    python pipeline/report.py --output-root outputs [--run-id 2026-11-28T12:00:00.000000]
"""

import argparse
import base64
import dataclasses
import functools
import io
import json
import os
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

import matplotlib

matplotlib.use('Agg')
import jinja2
from matplotlib import pyplot  # pylint: disable=g-import-not-at-top
import numpy as np
import tensorflow as tf
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.writers import eval_config_writer
from tfx.types import standard_component_specs as specs
from tfx.utils import path_utils

from components import data_gate
from components import features
from components import labels as labels_lib
from components import metrics as metrics_lib
from components import multilabel_metrics
from components import run_records
from components.example_gen import executor as example_gen_executor
from pipeline import definition
from pipeline import formatting
from pipeline import run_summary
from pipeline.config import PipelineConfig
from serving.predictor import Prediction, Predictor

# The report's two files, each rendered from the template of its name in templates/.
REPORT_HTML = 'report.html'
REPORT_MARKDOWN = 'report.md'
# In a SliceResult's figures: {metric: {label id: value}} of the per-label figures
# (TFMA's class_id sub-keys).
BY_LABEL = 'by_label'
_EXAMPLES_SHOWN = 6
_ABSTRACT_SHOWN = 600  # Characters of an example's abstract.
# The Markdown names the weakest labels among those with this many test papers.
_WEAKEST_MIN_SUPPORT = 20
_BOOTSTRAP_NAMES = {'micro_f1': 'micro F1', 'macro_f1': 'macro F1',
                    'precision_at_1': 'precision@1'}
# Headline metrics shown with the bootstrap's interval: those it computes exactly as
# TFMA does (its macro-F1 averages only the labels present in each resample).
_HEADLINE_INTERVALS = ('micro_f1', 'precision_at_1')
# Headline metrics, in the order shown, with how to read them.
HEADLINE = (
    ('micro_f1', 'micro F1 (blessing metric)'),
    ('micro_precision', 'micro precision'),
    ('micro_recall', 'micro recall'),
    ('macro_f1', 'macro F1'),
    ('precision_at_1', 'precision@1'),
    ('precision_at_3', 'precision@3'),
    ('precision_at_5', 'precision@5'),
    ('recall_at_1', 'recall@1'),
    ('recall_at_3', 'recall@3'),
    ('recall_at_5', 'recall@5'),
    ('micro_auc', 'micro AUC'),
    ('subset_accuracy', 'subset accuracy (exact label set)'),
    ('hamming_loss', 'Hamming loss (lower is better)'),
    ('binary_accuracy', 'binary accuracy (reference headline; ~0.986 for no labels at all)'),
)


@dataclasses.dataclass
class SliceResult:
  name: str
  candidate: Dict[str, Any]
  baseline: Dict[str, Any]


@dataclasses.dataclass
class ReportData:
  summary: Dict[str, Any]
  data_report: run_records.DataReport
  training: run_records.TrainingRecord
  curves: Dict[str, bytes]  # Training curve PNGs by metric.
  slices: List[SliceResult]  # Overall first.
  blessed: bool
  reasons: List[str]
  labels: List[str]
  thresholds: List[float]
  baseline_labels: List[str]
  examples: List[Tuple[example_gen_executor.ExamplePaper, Prediction]]
  # Bootstrap over the test papers: 'a' this model, 'b' the label-priors baseline,
  # 'a_minus_b'; {metric: {'estimate', 'low', 'high'}}.
  intervals: Dict[str, Dict[str, Dict[str, float]]]
  prior_labels: List[str]  # What the label-priors baseline predicts for every paper.
  test_papers: int

  @property
  def overall(self) -> SliceResult:
    return self.slices[0]


def gather(summary: Dict[str, Any]) -> ReportData:
  """Reads everything the report shows from the run's artifacts."""
  artifacts = summary['artifacts']
  example_gen = artifacts[definition.EXAMPLE_GEN]
  data_report = run_records.DataReport.read(example_gen[example_gen_executor.DATA_REPORT_KEY])
  model_run = artifacts[definition.TRAINER][specs.MODEL_RUN_KEY]
  training = run_records.TrainingRecord.read(model_run)
  curves = {}
  for curve in run_records.CURVES:
    with open(run_records.curve_path(model_run, curve), 'rb') as f:
      curves[curve] = f.read()
  evaluation_uri = artifacts[definition.EVALUATOR][specs.EVALUATION_KEY]
  slices = load_slices(evaluation_uri)
  blessed = bool(summary.get('blessed'))
  # The resolver runs inside the Evaluator's input resolution, not as a component of
  # its own: where the baseline came from, the evaluation run itself records.
  baseline_location = eval_config_writer.load_eval_run(evaluation_uri)[3].get('baseline')
  baseline_labels = []
  if baseline_location and slices[0].baseline:
    baseline_labels = labels_lib.read_vocabulary(os.path.join(
        baseline_location, tf.saved_model.ASSETS_DIRECTORY, features.LABEL_VOCABULARY))
  labels = list(training.label_thresholds)
  papers = example_gen_executor.read_papers(example_gen[example_gen_executor.EXAMPLES_KEY],
                                           features.TEST_SPLIT)
  predictor = Predictor(path_utils.serving_model_path(
      artifacts[definition.TRAINER][specs.MODEL_KEY]))
  # Every paper's probabilities in one model call; the shown examples' labels too.
  probabilities = predictor.outputs([p.abstract for p in papers],
                                    [p.title for p in papers])[features.PROBABILITIES_KEY]
  shown = papers[:_EXAMPLES_SHOWN]
  predictions = predictor.predict([p.abstract for p in shown], [p.title for p in shown])
  intervals, prior_labels = compare_with_priors(papers, probabilities, predictor, data_report)
  return ReportData(
      summary=summary,
      data_report=data_report,
      training=training,
      curves=curves,
      slices=slices,
      blessed=blessed,
      reasons=blessing_reasons(evaluation_uri, slices[0], blessed),
      labels=labels,
      thresholds=list(training.label_thresholds.values()),
      baseline_labels=baseline_labels,
      examples=list(zip(shown, predictions)),
      intervals=intervals,
      prior_labels=prior_labels,
      test_papers=len(papers))


def load_slices(evaluation_uri: str) -> List[SliceResult]:
  """TFMA's metrics per slice, candidate and baseline side by side, overall first."""
  results = []
  for slice_metrics in tfma.load_metrics(evaluation_uri):
    name = ', '.join(f'{k.column} = {_slice_value(k)}'
                     for k in slice_metrics.slice_key.single_slice_keys) or 'Overall'
    candidate, baseline = {}, {}
    for entry in slice_metrics.metric_keys_and_values:
      if entry.key.is_diff:
        continue
      target = baseline if entry.key.model_name == 'baseline' else candidate
      if entry.key.HasField('sub_key'):  # A label's figure, under its class_id.
        target.setdefault(BY_LABEL, {}).setdefault(entry.key.name, {})[
            entry.key.sub_key.class_id.value] = entry.value.double_value.value
      elif entry.value.HasField('double_value'):
        target[entry.key.name] = entry.value.double_value.value
      elif entry.value.HasField('bytes_value'):
        target[entry.key.name] = json.loads(entry.value.bytes_value.decode())
    results.append(SliceResult(name, candidate, baseline))
  results.sort(key=lambda s: (s.name != 'Overall', s.name))
  return results


def _slice_value(key) -> str:
  kind = key.WhichOneof('kind')
  value = getattr(key, kind)
  return value.decode() if isinstance(value, bytes) else str(value)


def blessing_reasons(evaluation_uri: str, overall: SliceResult, blessed: bool) -> List[str]:
  """Why the model was (not) blessed, in words: each check, whether it passed, and
  where the figure stood against its threshold."""
  eval_config = eval_config_writer.load_eval_run(evaluation_uri)[0]
  reasons = []
  for spec in eval_config.metrics_specs:
    for metric in spec.metrics:
      thresholds = [t.threshold for t in metric.per_slice_thresholds]
      if metric.HasField('threshold'):
        thresholds.append(metric.threshold)
      for threshold in thresholds:
        reasons += _threshold_reasons(metric, threshold, overall)
  if not blessed:
    reasons += [f'failed: {failure.message}'
                for validation in tfma.load_validation_result(evaluation_uri)
                .metric_validations_per_slice
                for failure in validation.failures if failure.message]
  return reasons


def _threshold_reasons(metric: tfma.MetricConfig, threshold: tfma.MetricThreshold,
                       overall: SliceResult) -> List[str]:
  config = json.loads('{' + metric.config + '}')
  lower = threshold.value_threshold.lower_bound.value
  if metric.class_name == multilabel_metrics.LiftOverPriors.__name__:
    return [_lift_reason(config['metric'], lower, overall.candidate)]
  name = config.get('name', metric.class_name)
  value = overall.candidate.get(name)
  met = value is not None and value >= lower
  reasons = [f'{_passed(met)}: {name} {formatting.number(value)} {"≥" if met else "<"} '
             f'{lower:g} required']
  if name in overall.baseline:
    change = value - overall.baseline[name]
    allowed = threshold.change_threshold.absolute.value
    reasons.append(f'{_passed(change >= allowed)}: {name} changed by '
                   f'{formatting.change(change)} against the latest blessed model '
                   f'({formatting.number(overall.baseline[name])}); at least '
                   f'{allowed:+g} allowed')
  else:
    reasons.append('no model had been blessed before: nothing to compare with')
  return reasons


def _lift_reason(metric: str, lower_bound: float, candidate: Dict[str, Any]) -> str:
  """The check that the model beats label priors on `metric`: the lift's interval."""
  lift = functools.partial(multilabel_metrics.lift_name, metric)
  label = _BOOTSTRAP_NAMES[metric]
  if lift('lower') not in candidate:
    return f'{_passed(False)}: no {label} lift over label priors (the model lacks its output)'
  low = candidate[lift('lower')]
  return (f'{_passed(low >= lower_bound)}: {label} lift over label priors '
          f'{candidate[lift()]:+.3f} (95% interval {low:+.3f} to {candidate[lift("upper")]:+.3f}'
          f'); its lower bound must be above 0')


def _passed(met: bool) -> str:
  return 'passed' if met else 'failed'


def compare_with_priors(papers: List[example_gen_executor.ExamplePaper],
                        probabilities: np.ndarray, predictor: Predictor,
                        data_report: run_records.DataReport
                        ) -> Tuple[Dict[str, Any], List[str]]:
  """This model against the label-priors baseline on the same test papers, with 95%
  paired-bootstrap intervals; and the labels that baseline predicts.

  The baseline gives every paper each label's share of train, with the threshold
  that admits the most frequent labels as eval's counts favour: what a model that
  never reads the abstract scores. Labels are the model's (as the Evaluator's are)."""
  labels = predictor.labels
  truth = labels_lib.names_to_multi_hot([paper.labels for paper in papers], labels)
  sizes, counts = data_report.split_sizes, data_report.label_counts
  train_shares = np.array([counts[features.TRAIN_SPLIT].get(label, 0) for label in labels],
                          np.float64) / max(sizes[features.TRAIN_SPLIT], 1)
  eval_counts = np.array([counts[features.EVAL_SPLIT].get(label, 0) for label in labels])
  priors, threshold = metrics_lib.label_prior_baseline(train_shares, eval_counts,
                                                       sizes[features.EVAL_SPLIT])
  intervals = metrics_lib.paired_bootstrap(
      truth, (probabilities, np.array(predictor.thresholds, np.float32)),
      (np.tile(priors, (len(papers), 1)), np.float32(threshold)))
  by_train_share = np.argsort(-train_shares, kind='stable')
  return intervals, [labels[i] for i in by_train_share if priors[i] >= threshold]


@dataclasses.dataclass(frozen=True)
class LabelResult:
  """One label's test metrics, and the change of its F1 against the baseline model."""
  label: str
  support: int
  precision: float
  recall: float
  f1: float
  auc: Optional[float]  # None where the label has no positive or no negative test paper.
  threshold: float
  f1_change: Optional[float]


def per_label_results(data: ReportData) -> List[LabelResult]:
  """One result per label, most supported first."""
  details = data.overall.candidate.get(BY_LABEL)
  if not details:
    return []
  baseline_f1 = {data.baseline_labels[class_id]: f1 for class_id, f1 in
                 data.overall.baseline.get(BY_LABEL, {}).get('f1', {}).items()}
  results = [
      LabelResult(label=label, support=int(details['support'][index]),
                  precision=details['precision'][index], recall=details['recall'][index],
                  f1=details['f1'][index], auc=details['auc'].get(index),
                  threshold=data.thresholds[index],
                  f1_change=(details['f1'][index] - baseline_f1[label]
                             if label in baseline_f1 else None))
      for index, label in enumerate(data.labels)]
  return sorted(results, key=lambda result: (-result.support, result.label))


def confusions(data: ReportData) -> List[Tuple[str, str, int]]:
  details = data.overall.candidate.get(multilabel_metrics.PER_LABEL) or {}
  return [(data.labels[c['true']], data.labels[c['predicted']], c['count'])
          for c in details.get('confusions', [])]


def coverage_warnings(data: ReportData, results: List[LabelResult]) -> List[str]:
  """What the headline figures do not cover, to read next to them."""
  warnings = []
  missing = [r.label for r in results if r.support == 0]
  if missing:
    warnings.append(f'{len(missing)} of {len(results)} labels have no test papers: their '
                    f'precision and recall are not measured, and macro-F1 averages the '
                    f'other {len(results) - len(missing)}.')
  global_threshold = data.training.threshold
  fallback = sum(1 for t in data.thresholds if abs(t - global_threshold) < 1e-6)
  if 0 < fallback < len(data.thresholds):
    warnings.append(f'{fallback} of {len(data.thresholds)} labels use the global threshold '
                    f'{global_threshold:g}: eval had too few of their papers for their own.')
  if data.test_papers < 1000:
    bounds = data.intervals['a'].get('micro_f1')
    if bounds:
      warnings.append(f'Only {data.test_papers:,} test papers: micro-F1 could be anywhere '
                      f'from {bounds["low"]:.3f} to {bounds["high"]:.3f} on papers like '
                      'these (95% bootstrap interval).')
  return warnings


# ---------------------------------------------------------------- charts


def _png(figure) -> bytes:
  buffer = io.BytesIO()
  figure.savefig(buffer, format='png', dpi=100, bbox_inches='tight')
  pyplot.close(figure)
  return buffer.getvalue()


def f1_support_chart(results: List[LabelResult]) -> bytes:
  """Labels only the 12 best-supported points above F1 0: the rest would pile up into
  a smear with many labels (those at 0 are counted in the legend instead)."""
  figure, axes = pyplot.subplots(figsize=(7, 4.5))
  present = [r for r in results if r.support > 0]
  zero = [r for r in present if r.f1 == 0]
  axes.scatter([r.support for r in present], [r.f1 for r in present], s=14,
               label=f'{len(present)} labels with test papers ({len(zero)} at F1 = 0)')
  for result in [r for r in present if r.f1 > 0][:12]:
    axes.annotate(result.label, (result.support, result.f1), fontsize=7,
                  xytext=(3, 3), textcoords='offset points')
  axes.legend(loc='lower right', fontsize=8)
  axes.set(xscale='log', xlabel='support (test examples, log scale)', ylabel='F1',
           title='Per-label F1 against support', ylim=(-0.02, 1.02))
  axes.grid(True, alpha=0.3)
  return _png(figure)


def threshold_chart(curve: Dict[str, List[float]], thresholds: Sequence[float]) -> bytes:
  figure, axes = pyplot.subplots(figsize=(7, 4.5))
  axes.plot(curve['thresholds'], curve['precision'], label='micro precision')
  axes.plot(curve['thresholds'], curve['recall'], label='micro recall')
  for threshold in sorted(set(round(t, 2) for t in thresholds))[:1]:
    axes.axvline(threshold, color='grey', linestyle='--',
                 label=f'global threshold {threshold:g}')
  axes.set(xlabel='threshold on the probability', ylabel='value',
           title='Precision and recall against the threshold (all labels)', ylim=(0, 1.02))
  axes.legend()
  axes.grid(True, alpha=0.3)
  return _png(figure)


# ---------------------------------------------------------------- the view


@dataclasses.dataclass(frozen=True)
class Change:
  """A change against the latest blessed model, and whether it is for the better."""
  text: str
  direction: str  # 'up', 'down' or '': how the HTML colours it.

  @classmethod
  def of(cls, value: Optional[float], better_when_lower: bool = False) -> 'Change':
    return cls(formatting.change(value), formatting.direction(value, better_when_lower))


@dataclasses.dataclass(frozen=True)
class Row:
  cells: List[str]
  change: Optional[Change] = None  # A last, coloured column.


@dataclasses.dataclass(frozen=True)
class Table:
  header: List[str]
  rows: List[Row]


@dataclasses.dataclass(frozen=True)
class Image:
  element_id: str
  alt: str
  src: str  # A data: URI: the report fetches nothing.

  @classmethod
  def of(cls, png: bytes, element_id: str, alt: str) -> 'Image':
    return cls(element_id, alt, 'data:image/png;base64,' + base64.b64encode(png).decode())


@dataclasses.dataclass(frozen=True)
class Comparison:
  """This model and the label-priors baseline on the same papers, with intervals."""
  metrics: List[str]
  # Per model: its name and, per metric, (estimate, 95% interval).
  models: List[Tuple[str, List[Tuple[str, str]]]]
  predicted_labels: str  # What the baseline predicts for every paper.

  @property
  def difference(self) -> List[str]:
    """Per metric, this model minus the baseline, with its interval."""
    return [f'{metric} {estimate} ({interval})'
            for metric, (estimate, interval) in zip(self.metrics, self.models[-1][1])]


@dataclasses.dataclass(frozen=True)
class DataCheck:
  """The DataGate's verdict and the drift it measured."""
  verdict: str
  drift: Table
  problems: List[str]
  described: str  # Each measurement in words, in a line.


@dataclasses.dataclass(frozen=True)
class Paper:
  title: str
  abstract: str  # Cut to _ABSTRACT_SHOWN characters.
  labels: List[str]
  predicted: List[Tuple[str, bool]]  # (label, whether the paper has it)
  top_k: str


@dataclasses.dataclass(frozen=True)
class ReportView:
  """Every fact the report shows, formatted once: both templates render it."""
  pipeline_name: str
  run_id: str
  data_path: str
  test_papers: str
  blessed: bool
  verdict: str
  reasons: List[str]
  warnings: List[str]
  headline: Table
  has_baseline_model: bool
  comparison: Comparison
  rows_read: str
  rows_kept: str
  dropped: str  # Reasons and counts, in a line.
  data: Table  # Rows read, dropped by reason, kept, per split.
  split_sizes: str
  months: str  # '' for one data set split at random.
  data_check: Optional[DataCheck]
  label_counts: Table
  training: str
  curves: List[Image]
  per_label: Optional[Table]
  charts: List[Image]  # F1 against support; precision and recall against the threshold.
  weakest_labels: str  # Frequent labels with the lowest F1; '' when none.
  weakest_min_support: int  # What "frequent" means there: test papers.
  slices: Table
  confusions: Table
  examples: List[Paper]
  html_path: str


def view(data: ReportData, html_path: str) -> ReportView:
  """The report's facts, formatted."""
  summary, report, training = data.summary, data.data_report, data.training
  results = per_label_results(data)
  candidate, baseline = data.overall.candidate, data.overall.baseline
  headline = Table(
      ['metric', 'this model', '95% interval', 'latest blessed', 'change'],
      [Row([description, formatting.number(candidate[name]),
            formatting.interval(data.intervals['a'].get(name))
            if name in _HEADLINE_INTERVALS else formatting.NONE,
            formatting.number(baseline.get(name))],
           Change.of(candidate[name] - baseline[name] if name in baseline else None,
                     better_when_lower=name == 'hamming_loss'))
       for name, description in HEADLINE if name in candidate])

  def bootstrap_cell(side: str, metric: str) -> Tuple[str, str]:
    bounds, difference = data.intervals[side][metric], side == 'a_minus_b'
    estimate = (f'{bounds["estimate"]:+.3f}' if difference else
                formatting.number(bounds['estimate'], 3))
    return estimate, formatting.interval(bounds, signed=difference)

  models = [(title, [bootstrap_cell(side, metric) for metric in _BOOTSTRAP_NAMES])
            for side, title in (('a', 'this model'), ('b', 'label priors'),
                                ('a_minus_b', 'this model − label priors'))]
  check = summary.get('data_check')
  if check:
    check = DataCheck(
        verdict=check['verdict'], problems=check['problems'],
        drift=Table(['what', 'measure', 'value', 'threshold', 'drifted'], [
            Row([name, d['measure'], f'{d["value"]:.4f}', str(d['threshold']),
                 data_gate.drifted_word(d)]) for name, d in check['drift'].items()]),
        described=', '.join(data_gate.describe(name, d)
                            for name, d in check['drift'].items()))
  top_labels = list(report.label_counts[features.TRAIN_SPLIT])[:15]
  charts = []
  if results:
    curve = candidate[multilabel_metrics.PER_LABEL]['threshold_curve']
    charts = [Image.of(f1_support_chart(results), 'f1-support',
                       'per-label F1 against support'),
              Image.of(threshold_chart(curve, [training.threshold]), 'threshold-curve',
                       'precision and recall against the threshold')]
  weakest = sorted((r for r in results if r.support >= _WEAKEST_MIN_SUPPORT),
                   key=lambda r: r.f1)[:5]
  slices = []
  for result in data.slices:
    c, b = result.candidate, result.baseline
    slices.append(Row(
        [result.name, formatting.count(c.get('example_count'))] +
        [formatting.number(c.get(m), 3)
         for m in ('micro_f1', 'macro_f1', 'precision_at_1', 'recall_at_3')],
        Change.of(c['micro_f1'] - b['micro_f1'] if 'micro_f1' in b and 'micro_f1' in c
                  else None)))
  return ReportView(
      pipeline_name=summary['pipeline_name'],
      run_id=summary['run_id'],
      data_path=summary['data_path'],
      test_papers=formatting.count(candidate.get('example_count')),
      blessed=data.blessed,
      verdict=formatting.verdict(data.blessed),
      reasons=data.reasons,
      warnings=coverage_warnings(data, results),
      headline=headline,
      has_baseline_model=bool(baseline),
      comparison=Comparison(list(_BOOTSTRAP_NAMES.values()), models,
                            ', '.join(data.prior_labels) or 'none'),
      rows_read=f'{report.rows_read:,}',
      rows_kept=f'{report.rows_kept:,}',
      dropped=formatting.dropped(report.rows_dropped),
      data=Table(['rows', 'count'],
                 [Row(['read', f'{report.rows_read:,}'])] +
                 [Row([f'dropped: {reason}', f'{n:,}'])
                  for reason, n in report.rows_dropped.items() if n] +
                 [Row(['kept', f'{report.rows_kept:,}'])] +
                 [Row([f'split {split}', f'{n:,}']) for split, n in report.split_sizes.items()]),
      split_sizes=formatting.split_sizes(report.split_sizes),
      months=formatting.months(report.spans),
      data_check=check,
      label_counts=Table(['label'] + list(features.SPLITS), [
          Row([label] + [f'{report.label_counts[split].get(label, 0):,}'
                         for split in features.SPLITS]) for label in top_labels]),
      training=formatting.training([member.model_dump() for member in training.members],
                                   training.num_labels, training.vocabulary_size,
                                   training.parameters, training.threshold),
      curves=[Image.of(png, f'curve-{name}', f'training curve: {name}')
              for name, png in data.curves.items()],
      per_label=Table(
          ['label', 'support', 'precision', 'recall', 'F1', 'AUC', 'threshold', 'F1 change'],
          [Row([r.label, f'{r.support:,}'] +
               [formatting.number(v, 3) for v in (r.precision, r.recall, r.f1, r.auc)] +
               [f'{r.threshold:.2f}'], Change.of(r.f1_change)) for r in results]
      ) if results else None,
      charts=charts,
      weakest_labels=', '.join(f'{r.label} (F1 {r.f1:.2f}, {r.support} papers)'
                               for r in weakest),
      weakest_min_support=_WEAKEST_MIN_SUPPORT,
      slices=Table(['slice', 'examples', 'micro F1', 'macro F1', 'precision@1', 'recall@3',
                    'micro F1 change'], slices),
      confusions=Table(['true label (missed)', 'predicted instead', 'papers'],
                       [Row([t, p, f'{n:,}']) for t, p, n in confusions(data)[:15]]),
      examples=[Paper(
          title=paper.title,
          abstract=paper.abstract if len(paper.abstract) < _ABSTRACT_SHOWN else (
              paper.abstract[:_ABSTRACT_SHOWN] + '…'),
          labels=list(paper.labels),
          predicted=[(label, label in paper.labels) for label in prediction.labels],
          top_k=', '.join(f'{label} {p:.2f}' for label, p in prediction.top_k))
                for paper, prediction in data.examples],
      html_path=html_path)


# ---------------------------------------------------------------- rendering


@functools.lru_cache(maxsize=None)
def _templates() -> jinja2.Environment:
  """report.html autoescaped, report.md as written."""
  return jinja2.Environment(
      loader=jinja2.FileSystemLoader(os.path.join(os.path.dirname(__file__), 'templates')),
      autoescape=jinja2.select_autoescape(['html']), undefined=jinja2.StrictUndefined,
      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render(report: ReportView, template: str) -> str:
  return _templates().get_template(template).render(report=report)


def write(summary: Dict[str, Any], directory: str) -> Dict[str, str]:
  """Writes report.html and report.md into `directory`; returns their paths."""
  os.makedirs(directory, exist_ok=True)
  paths = {'html': os.path.join(directory, REPORT_HTML),
           'markdown': os.path.join(directory, REPORT_MARKDOWN)}
  report = view(gather(summary), paths['html'])
  for kind, template in (('html', REPORT_HTML), ('markdown', REPORT_MARKDOWN)):
    with open(paths[kind], 'w', encoding='utf-8') as f:
      f.write(render(report, template))
  return paths


def report_directory(output_root: str, run_id: str) -> str:
  return os.path.join(output_root, 'reports', run_summary.file_name(run_id))


def main(argv: Optional[List[str]] = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--output-root', default=PipelineConfig().output_root,
                      help='the output root the run wrote to')
  parser.add_argument('--run-id', help='a pipeline run id (default: the newest run)')
  args = parser.parse_args(argv)
  config = dataclasses.replace(PipelineConfig(), output_root=args.output_root)
  summary = run_summary.collect(config, args.run_id)
  paths = write(summary, report_directory(args.output_root, summary['run_id']))
  print(f'report: {paths["html"]}\nsummary: {paths["markdown"]}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
