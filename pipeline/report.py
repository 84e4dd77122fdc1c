"""The evaluation report of a pipeline run: one self-contained HTML file and a summary.

Answers "how good is it, for which labels, and is it better than what is serving
now" without Jupyter: headline metrics and the blessing decision with its reasons,
the data report, training curves, a per-label table and chart, precision / recall
against the threshold, slices, frequent confusions, test examples, and the change
against the previously blessed model. Images are embedded; nothing is fetched.

`run_local.py` writes it after every run; for any past run:

    python pipeline/report.py --output-root outputs [--run-id 2026-11-28T12:00:00.000000]
"""

import argparse
import base64
import dataclasses
import html
import io
import json
import os
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

import matplotlib

matplotlib.use('Agg')
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
from pipeline import run_summary
from pipeline.config import PipelineConfig
from serving.predictor import Prediction, Predictor

REPORT_HTML = 'report.html'
REPORT_MARKDOWN = 'report.md'
_EXAMPLES_SHOWN = 6
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
  baseline_uri = artifacts.get(definition.LATEST_BLESSED_MODEL_RESOLVER, {}).get(
      specs.MODEL_KEY)
  baseline_labels = []
  if baseline_uri and slices[0].baseline:
    baseline_labels = labels_lib.read_vocabulary(os.path.join(
        path_utils.serving_model_path(baseline_uri), tf.saved_model.ASSETS_DIRECTORY,
        features.LABEL_VOCABULARY))
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
      if entry.value.HasField('double_value'):
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
  """Why the model was (not) blessed, in words: each threshold and where it stood."""
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
  name = json.loads('{' + metric.config + '}').get('name', metric.class_name)
  value = overall.candidate.get(name)
  lower = threshold.value_threshold.lower_bound.value
  met = value is not None and value >= lower
  reasons = [f'{name} {_number(value)} {"≥" if met else "<"} {lower:g} required']
  if name in overall.baseline:
    change = value - overall.baseline[name]
    reasons.append(f'{name} changed by {change:+.4f} against the latest blessed model '
                   f'({_number(overall.baseline[name])}); at least '
                   f'{threshold.change_threshold.absolute.value:+g} allowed')
  else:
    reasons.append('no model had been blessed before: nothing to compare with')
  return reasons


def compare_with_priors(papers: List[example_gen_executor.ExamplePaper], probabilities: np.ndarray, predictor: Predictor,
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


def per_label_rows(data: ReportData) -> List[Dict[str, Any]]:
  """One row per label, most supported first, with the change against the baseline."""
  details = data.overall.candidate.get(multilabel_metrics.PER_LABEL)
  if not details:
    return []
  baseline = data.overall.baseline.get(multilabel_metrics.PER_LABEL)
  baseline_f1 = dict(zip(data.baseline_labels, baseline['f1'])) if baseline else {}
  rows = []
  for index, label in enumerate(data.labels):
    rows.append({
        'label': label, 'support': int(details['support'][index]),
        'precision': details['precision'][index], 'recall': details['recall'][index],
        'f1': details['f1'][index], 'auc': details['auc'][index],
        'threshold': data.thresholds[index],
        'f1_change': (details['f1'][index] - baseline_f1[label]) if label in baseline_f1
                     else None,
    })
  return sorted(rows, key=lambda row: (-row['support'], row['label']))


def confusions(data: ReportData) -> List[Tuple[str, str, int]]:
  details = data.overall.candidate.get(multilabel_metrics.PER_LABEL) or {}
  return [(data.labels[c['true']], data.labels[c['predicted']], c['count'])
          for c in details.get('confusions', [])]


# ---------------------------------------------------------------- charts


def _png(figure) -> bytes:
  buffer = io.BytesIO()
  figure.savefig(buffer, format='png', dpi=100, bbox_inches='tight')
  pyplot.close(figure)
  return buffer.getvalue()


def f1_support_chart(rows: List[Dict[str, Any]]) -> bytes:
  """Labels only the 12 best-supported points above F1 0: the rest would pile up into
  a smear with many labels (those at 0 are counted in the legend instead)."""
  figure, axes = pyplot.subplots(figsize=(7, 4.5))
  present = [r for r in rows if r['support'] > 0]
  zero = [r for r in present if r['f1'] == 0]
  axes.scatter([r['support'] for r in present], [r['f1'] for r in present], s=14,
               label=f'{len(present)} labels with test papers ({len(zero)} at F1 = 0)')
  for row in [r for r in present if r['f1'] > 0][:12]:
    axes.annotate(row['label'], (row['support'], row['f1']), fontsize=7,
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


# ---------------------------------------------------------------- rendering


def _number(value, digits: int = 4) -> str:
  if value is None or (isinstance(value, float) and np.isnan(value)):
    return '–'
  if isinstance(value, (int, np.integer)) or float(value).is_integer() and abs(value) >= 10:
    return f'{int(value):,}'
  return f'{value:.{digits}f}'


def _count(value) -> str:
  """A count: always an integer ("7", not "7.0000")."""
  return '–' if value is None else f'{int(round(value)):,}'


def _interval(interval: Optional[Dict[str, float]], signed: bool = False) -> str:
  if not interval:
    return '–'
  form = '{:+.3f}' if signed else '{:.3f}'
  return f'{form.format(interval["low"])} to {form.format(interval["high"])}'


def _headline_interval(data: ReportData, name: str) -> str:
  return _interval(data.intervals['a'].get(name)) if name in _HEADLINE_INTERVALS else '–'


def coverage_warnings(data: ReportData) -> List[str]:
  """What the headline figures do not cover, to read next to them."""
  rows = per_label_rows(data)
  warnings = []
  missing = [r['label'] for r in rows if r['support'] == 0]
  if missing:
    warnings.append(f'{len(missing)} of {len(rows)} labels have no test papers: their '
                    f'precision and recall are not measured, and macro-F1 averages the '
                    f'other {len(rows) - len(missing)}.')
  global_threshold = data.training.threshold
  fallback = sum(1 for t in data.thresholds if abs(t - global_threshold) < 1e-6)
  if 0 < fallback < len(data.thresholds):
    warnings.append(f'{fallback} of {len(data.thresholds)} labels use the global threshold '
                    f'{global_threshold:g}: eval had too few of their papers for their own.')
  if data.test_papers < 1000:
    interval = data.intervals['a'].get('micro_f1')
    if interval:
      warnings.append(f'Only {data.test_papers:,} test papers: micro-F1 could be anywhere '
                      f'from {interval["low"]:.3f} to {interval["high"]:.3f} on papers like '
                      'these (95% bootstrap interval).')
  return warnings


def _change(value: Optional[float], better_when_lower: bool = False) -> str:
  if value is None:
    return '–'
  good = (value < 0) if better_when_lower else (value > 0)
  css = 'up' if good else ('down' if value else '')
  return f'<span class="{css}">{value:+.4f}</span>'


def headline_rows(data: ReportData) -> List[Tuple[str, str, Any, Any, Optional[float]]]:
  candidate, baseline = data.overall.candidate, data.overall.baseline
  rows = []
  for name, description in HEADLINE:
    if name not in candidate:
      continue
    change = candidate[name] - baseline[name] if name in baseline else None
    rows.append((name, description, candidate[name], baseline.get(name), change))
  return rows


_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1100px;
padding:24px;color:#1d2330}
h1{font-size:24px;margin-bottom:4px} h2{font-size:18px;margin-top:32px;border-bottom:1px solid #dde}
table{border-collapse:collapse;margin:8px 0 16px} th,td{padding:4px 10px;border-bottom:1px solid #eef;
text-align:right} th:first-child,td:first-child{text-align:left} th{background:#f4f6fb}
.decision{padding:12px 16px;border-radius:6px;font-size:16px;margin:16px 0}
.blessed{background:#e5f6ea;border:1px solid #7bc48f} .rejected{background:#fdecea;border:1px solid #e08a80}
.up{color:#18794e} .down{color:#c0392b} .muted{color:#667} img{max-width:100%}
.paper{border:1px solid #e3e6ef;border-radius:6px;padding:10px 14px;margin:10px 0}
.tag{display:inline-block;background:#eef1f8;border-radius:4px;padding:1px 6px;margin:1px}
.hit{background:#dff3e6} .miss{background:#fbe3e0}
.warning{background:#fff8e1;border:1px solid #e3c36b;border-radius:6px;padding:8px 8px 8px 28px}
"""


def render_html(data: ReportData) -> str:
  """The whole report as one HTML page with embedded images and no scripts."""
  summary, esc = data.summary, html.escape
  parts = [f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
           f'<title>Evaluation report {esc(summary["run_id"])}</title>'
           f'<style>{_STYLE}</style></head><body>',
           f'<h1>Evaluation report: {esc(summary["pipeline_name"])}</h1>',
           f'<p class="muted">Run {esc(summary["run_id"])} · data {esc(summary["data_path"])} · '
           f'{_count(data.overall.candidate.get("example_count"))} test papers</p>']
  verdict = 'Blessed and pushed' if data.blessed else 'Not blessed: not pushed'
  parts.append(f'<div class="decision {"blessed" if data.blessed else "rejected"}" '
               f'id="decision"><b>{verdict}.</b><ul>' +
               ''.join(f'<li>{esc(r)}</li>' for r in data.reasons) + '</ul></div>')

  parts.append('<h2>Headline metrics (test split)</h2>')
  warnings = coverage_warnings(data)
  if warnings:
    parts.append('<ul id="coverage" class="warning">' +
                 ''.join(f'<li>{esc(w)}</li>' for w in warnings) + '</ul>')
  parts.append('<table id="headline"><tr><th>metric</th><th>this model</th>'
               '<th>95% interval</th><th>latest blessed</th><th>change</th></tr>')
  for name, description, value, baseline, change in headline_rows(data):
    parts.append(f'<tr><td>{esc(description)}</td><td>{_number(value)}</td>'
                 f'<td>{_headline_interval(data, name)}</td>'
                 f'<td>{_number(baseline)}</td>'
                 f'<td>{_change(change, name == "hamming_loss")}</td></tr>')
  parts.append('</table>')
  if not data.overall.baseline:
    parts.append('<p class="muted">No model had been blessed before this one: the "latest '
                 'blessed" column is empty; the baseline below is computed on every run.</p>')
  parts.append(
      '<h2>Against a simple baseline (same test papers)</h2><p class="muted">Label priors: '
      'every paper gets each label\'s share of train as its probability, and the labels '
      f'eval favours are predicted for all ({esc(", ".join(data.prior_labels) or "none")})'
      ': what a model that never reads the abstract scores. Intervals: 95%, paired '
      'bootstrap over the test papers.</p><table id="baselines"><tr><th>model</th>' +
      ''.join(f'<th>{esc(_BOOTSTRAP_NAMES[m])}</th>' for m in _BOOTSTRAP_NAMES) + '</tr>' +
      ''.join(f'<tr><td>{esc(title)}</td>' + ''.join(
          f'<td>{_number(data.intervals[side][m]["estimate"], 3)} '
          f'<span class="muted">({_interval(data.intervals[side][m], side == "a_minus_b")})'
          '</span></td>' for m in _BOOTSTRAP_NAMES) + '</tr>'
              for side, title in (('a', 'this model'), ('b', 'label priors'),
                                  ('a_minus_b', 'this model − label priors'))) + '</table>'
      '<p class="muted">Macro-F1\'s intervals lean upward: a resample that misses a rare '
      'label\'s only test paper also drops that label, often one scored 0, from the '
      'average.</p>')

  report = data.data_report
  parts.append('<h2>Data</h2><table id="data"><tr><th>rows</th><th>count</th></tr>'
               f'<tr><td>read</td><td>{report.rows_read:,}</td></tr>')
  for reason, count in report.rows_dropped.items():
    if count:
      parts.append(f'<tr><td>dropped: {esc(reason)}</td><td>{count:,}</td></tr>')
  parts.append(f'<tr><td>kept</td><td>{report.rows_kept:,}</td></tr>' + ''.join(
      f'<tr><td>split {esc(split)}</td><td>{size:,}</td></tr>'
      for split, size in report.split_sizes.items()) + '</table>')
  if report.spans:
    parts.append('<p id="spans">Months: ' + '; '.join(
        f'{esc(split)} {esc(", ".join(names))}' for split, names in report.spans.items()) +
                 '.</p>')
  check = summary.get('data_check')
  if check:
    parts.append(f'<p>Drift of the test split from train (data check: '
                 f'<b>{esc(check["verdict"])}</b>):</p><table id="drift"><tr><th>what</th>'
                 '<th>measure</th><th>value</th><th>threshold</th><th>drifted</th></tr>' +
                 ''.join(f'<tr><td>{esc(name)}</td><td>{esc(d["measure"])}</td>'
                         f'<td>{d["value"]:.4f}</td><td>{d["threshold"]}</td>'
                         f'<td>{data_gate.drifted_word(d)}</td></tr>'
                         for name, d in check['drift'].items()) + '</table>' +
                 ''.join(f'<p class="muted">{esc(problem)}</p>' for problem in check['problems']))
  top_labels = list(report.label_counts[features.TRAIN_SPLIT])[:15]
  parts.append('<p>Most frequent labels, papers per split:</p><table><tr><th>label</th>' +
               ''.join(f'<th>{esc(s)}</th>' for s in features.SPLITS) + '</tr>' + ''.join(
                   f'<tr><td>{esc(label)}</td>' + ''.join(
                       f'<td>{report.label_counts[s].get(label, 0):,}</td>'
                       for s in features.SPLITS) + '</tr>' for label in top_labels) +
               '</table>')

  training = data.training
  parts.append(f'<h2>Training</h2><p>{training.epochs_run} epochs, best epoch '
               f'{training.best_epoch} (restored), {training.num_labels} labels, '
               f'{training.vocabulary_size:,} n-gram ids, {training.parameters:,} '
               f'parameters; global decision threshold {training.threshold}.</p>')
  parts += [_image(png, f'training curve: {name}', f'curve-{name}')
            for name, png in data.curves.items()]

  rows = per_label_rows(data)
  if rows:
    parts.append('<h2>Per label</h2>')
    parts.append(_image(f1_support_chart(rows), 'per-label F1 against support', 'f1-support'))
    parts.append('<table id="per-label"><tr><th>label</th><th>support</th><th>precision</th>'
                 '<th>recall</th><th>F1</th><th>AUC</th><th>threshold</th>'
                 '<th>F1 change</th></tr>' + ''.join(
                     f'<tr><td>{esc(r["label"])}</td><td>{r["support"]:,}</td>'
                     f'<td>{_number(r["precision"], 3)}</td><td>{_number(r["recall"], 3)}</td>'
                     f'<td>{_number(r["f1"], 3)}</td><td>{_number(r["auc"], 3)}</td>'
                     f'<td>{r["threshold"]:.2f}</td><td>{_change(r["f1_change"])}</td></tr>'
                     for r in rows) + '</table>')
    curve = data.overall.candidate[multilabel_metrics.PER_LABEL]['threshold_curve']
    parts.append('<h2>Precision and recall against the threshold</h2>' +
                 _image(threshold_chart(curve, [training.threshold]),
                        'precision and recall against the threshold', 'threshold-curve'))

  parts.append('<h2>Slices</h2><table id="slices"><tr><th>slice</th><th>examples</th>'
               '<th>micro F1</th><th>macro F1</th><th>precision@1</th><th>recall@3</th>'
               '<th>micro F1 change</th></tr>')
  for result in data.slices:
    c, b = result.candidate, result.baseline
    change = c['micro_f1'] - b['micro_f1'] if 'micro_f1' in b and 'micro_f1' in c else None
    parts.append(f'<tr><td>{esc(result.name)}</td><td>{_count(c.get("example_count"))}</td>'
                 f'<td>{_number(c.get("micro_f1"), 3)}</td><td>{_number(c.get("macro_f1"), 3)}'
                 f'</td><td>{_number(c.get("precision_at_1"), 3)}</td>'
                 f'<td>{_number(c.get("recall_at_3"), 3)}</td><td>{_change(change)}</td></tr>')
  parts.append('</table>')

  pairs = confusions(data)
  parts.append('<h2>Most frequent confusions</h2><p class="muted">A true label the model '
               'missed while it predicted another label the paper does not have.</p>'
               '<table id="confusions"><tr><th>true label (missed)</th><th>predicted instead'
               '</th><th>papers</th></tr>' + ''.join(
                   f'<tr><td>{esc(t)}</td><td>{esc(p)}</td><td>{n:,}</td></tr>'
                   for t, p, n in pairs[:15]) + '</table>')

  parts.append('<h2>Examples from the test split</h2>')
  for paper, prediction in data.examples:
    true = set(paper.labels)
    tags = ''.join(f'<span class="tag {"hit" if label in true else "miss"}">{esc(label)}</span>'
                   for label in prediction.labels) or '<span class="muted">none</span>'
    top = ', '.join(f'{esc(label)} {p:.2f}' for label, p in prediction.top_k)
    abstract = paper.abstract if len(paper.abstract) < 600 else (
        paper.abstract[:600] + '…')
    parts.append(f'<div class="paper"><b>{esc(paper.title)}</b><p>{esc(abstract)}</p>'
                 f'<p>True: {"".join(f"<span class=tag>{esc(l)}</span>" for l in paper.labels)}'
                 f'<br>Predicted: {tags}<br><span class="muted">Top 3: {top}</span></p></div>')
  parts.append('</body></html>')
  return '\n'.join(parts)


def _image(png: bytes, alt: str, element_id: str) -> str:
  return (f'<p><img id="{element_id}" alt="{html.escape(alt)}" '
          f'src="data:image/png;base64,{base64.b64encode(png).decode()}"></p>')


def render_markdown(data: ReportData, html_path: str) -> str:
  """A short summary: decision, headline metrics, data, weakest frequent labels."""
  lines = [f'# Evaluation report: {data.summary["pipeline_name"]}', '',
           f'Run `{data.summary["run_id"]}`. Full report: `{html_path}`', '',
           f'**{"Blessed and pushed" if data.blessed else "Not blessed: not pushed"}.**']
  lines += [f'- {reason}' for reason in data.reasons]
  lines += [''] + [f'> {warning}' for warning in coverage_warnings(data)]
  lines += ['', '| metric | this model | 95% interval | latest blessed | change |',
            '|---|---|---|---|---|']
  for name, description, value, baseline, change in headline_rows(data):
    lines.append(f'| {description} | {_number(value)} | '
                 f'{_headline_interval(data, name)} | {_number(baseline)} | '
                 f'{"–" if change is None else f"{change:+.4f}"} |')
  lines += ['', 'Against the label-priors baseline (same test papers, 95% paired bootstrap): ' +
            '; '.join(f'{_BOOTSTRAP_NAMES[m]} {data.intervals["a_minus_b"][m]["estimate"]:+.3f}'
                      f' ({_interval(data.intervals["a_minus_b"][m], True)})'
                      for m in _BOOTSTRAP_NAMES) + '.']
  report = data.data_report
  dropped = ', '.join(f'{r} {n:,}' for r, n in report.rows_dropped.items() if n) or 'none'
  lines += ['', f'Data: {report.rows_read:,} rows read, {report.rows_kept:,} kept '
            f'(dropped: {dropped}); splits ' + ', '.join(
                f'{s} {n:,}' for s, n in report.split_sizes.items()) + '.']
  if report.spans:
    lines.append('Months: ' + '; '.join(f'{split} {", ".join(names)}'
                                        for split, names in report.spans.items()) + '.')
  check = data.summary.get('data_check')
  if check:
    lines.append(f'Data check: {check["verdict"]}; drift of test from train: ' + ', '.join(
        data_gate.describe(name, d) for name, d in check['drift'].items()) + '.')
  rows = [r for r in per_label_rows(data) if r['support'] >= 20]
  if rows:
    weakest = sorted(rows, key=lambda r: r['f1'])[:5]
    lines += ['', 'Weakest labels with at least 20 test papers: ' + ', '.join(
        f'{r["label"]} (F1 {r["f1"]:.2f}, {r["support"]} papers)' for r in weakest) + '.']
  return '\n'.join(lines) + '\n'


def write(summary: Dict[str, Any], directory: str) -> Dict[str, str]:
  """Writes report.html and report.md into `directory`; returns their paths."""
  data = gather(summary)
  os.makedirs(directory, exist_ok=True)
  paths = {'html': os.path.join(directory, REPORT_HTML),
           'markdown': os.path.join(directory, REPORT_MARKDOWN)}
  with open(paths['html'], 'w', encoding='utf-8') as f:
    f.write(render_html(data))
  with open(paths['markdown'], 'w', encoding='utf-8') as f:
    f.write(render_markdown(data, paths['html']))
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
