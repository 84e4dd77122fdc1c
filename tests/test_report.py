"""The evaluation report of the end-to-end run: contents, self-containment, a browser."""

import os
import re
import subprocess
import sys

from pipeline.config import REPOSITORY_ROOT


def _html(run):
  with open(run['report']['html'], encoding='utf-8') as f:
    return f.read()


def test_every_run_writes_an_html_report_and_a_markdown_summary(first_run):
  page = _html(first_run)
  for section in ('Headline metrics', 'Data', 'Training', 'Per label',
                  'Precision and recall against the threshold', 'Slices',
                  'Most frequent confusions', 'Examples from the test split'):
    assert f'<h2>{section}' in page, section
  assert 'Blessed and pushed' in page
  with open(first_run['report']['markdown'], encoding='utf-8') as f:
    summary = f.read()
  assert '**Blessed and pushed.**' in summary and '| micro F1 (blessing metric) |' in summary


def test_report_slices_cover_label_count_length_and_primary_label(first_run):
  page = _html(first_run)
  for column in ('label_count = 1', 'label_count = 2', 'abstract_length = ',
                 'primary_label = cs.CV'):
    assert column in page, column


def test_report_fetches_nothing(first_run):
  page = _html(first_run)
  assert not re.search(r'(src|href)\s*=\s*"(https?:)?//', page)
  assert '<script' not in page
  assert len(re.findall(r'src="data:image/png;base64,', page)) >= 5


def test_report_loads_in_headless_chromium_without_errors(first_run, browser):
  from selenium.webdriver.common.by import By  # pylint: disable=g-import-not-at-top
  browser.get('file://' + first_run['report']['html'])
  headline = browser.find_element(By.ID, 'headline')
  assert 'micro F1 (blessing metric)' in headline.text
  assert len(headline.find_elements(By.TAG_NAME, 'tr')) > 10
  images = browser.find_elements(By.TAG_NAME, 'img')
  assert len(images) >= 5
  for image in images:  # Every chart decoded and laid out.
    assert browser.execute_script(
        'return arguments[0].complete && arguments[0].naturalWidth', image) > 100
  errors = [entry for entry in browser.get_log('browser') if entry['level'] == 'SEVERE']
  assert errors == []


def test_report_command_writes_the_report_of_a_past_run(first_run, flags, tmp_path):
  output_root = flags[flags.index('--output-root') + 1]
  completed = subprocess.run(
      [sys.executable, os.path.join(REPOSITORY_ROOT, 'pipeline', 'report.py'),
       '--output-root', output_root, '--run-id', first_run['run_id']],
      check=True, capture_output=True, text=True)
  assert first_run['report']['html'] in completed.stdout
  assert first_run['run_id'] in _html(first_run)


def test_report_gives_intervals_a_baseline_and_coverage_on_a_first_run(first_run):
  page = _html(first_run)
  headline = page[page.index('id="headline"'):page.index('</table>', page.index('id="headline"'))]
  low, high = map(float, re.search(
      r'micro F1 \(blessing metric\)</td><td>[0-9.]+</td><td>([0-9.]+) to ([0-9.]+)</td>',
      headline).groups())
  micro_f1 = first_run['test_metrics']['micro_f1']
  assert low <= micro_f1 <= high and high - low > 0.005
  # The comparison exists on a first run: against label priors, on the same papers.
  assert '<h2>Against a simple baseline (same test papers)' in page
  for row in ('this model', 'label priors', 'this model − label priors'):
    assert f'<tr><td>{row}</td>' in page, row
  assert 'id="coverage"' in page and 'labels have no test papers' in page
  with open(first_run['report']['markdown'], encoding='utf-8') as f:
    markdown = f.read()
  # The Markdown carries the same facts: the verdict, the headline metric with its
  # interval, the comparison with label priors, and the coverage warning.
  assert '\n**Blessed and pushed.**\n' in markdown
  assert re.search(rf'\| micro F1 \(blessing metric\) \| {micro_f1:.4f} \| {low:.3f} to '
                   rf'{high:.3f} \| – \| – \|', markdown)
  assert re.search(r'Against the label-priors baseline \(same test papers, 95% paired '
                   r'bootstrap\): micro F1 [+-][0-9.]+ \([+-][0-9.]+ to [+-][0-9.]+\); ',
                   markdown)
  assert re.search(r'^> [0-9]+ of [0-9]+ labels have no test papers', markdown, re.M)


def test_counts_are_integers_and_metrics_keep_their_decimals():
  from pipeline import formatting  # pylint: disable=g-import-not-at-top
  assert formatting.count(7.0) == '7' and formatting.count(1234.0) == '1,234'
  assert formatting.number(1.0) == '1.0000' and formatting.number(0.53521) == '0.5352'
  assert formatting.number(float('nan')) == formatting.number(None) == '–'
  assert formatting.interval({'low': -0.01, 'high': 0.02}, signed=True) == '-0.010 to +0.020'
  assert formatting.direction(-0.01, better_when_lower=True) == 'up'
  assert formatting.direction(-0.01) == 'down' and formatting.direction(0.0) == ''


def test_f1_support_chart_labels_no_point_at_zero(monkeypatch):
  from matplotlib.axes import Axes  # pylint: disable=g-import-not-at-top
  from pipeline import report  # pylint: disable=g-import-not-at-top
  results = [report.LabelResult(f'l{i}', 100 - i, 0.5, 0.5, 0.0 if i % 2 else 0.5, 0.9, 0.3,
                                 None) for i in range(60)]
  labelled = []
  monkeypatch.setattr(Axes, 'annotate', lambda self, text, *a, **k: labelled.append(text))
  assert report.f1_support_chart(results)[:4] == b'\x89PNG'
  assert labelled == [f'l{i}' for i in range(0, 24, 2)]  # 12 points, none at F1 = 0.


def synthetic_report_data(title='A <b>bold</b> claim & more', blessed=False):
  """A ReportData with every section filled, as `gather` would read it from a run."""
  from components import multilabel_metrics  # pylint: disable=g-import-not-at-top
  from components.example_gen import executor  # pylint: disable=g-import-not-at-top
  from pipeline import report  # pylint: disable=g-import-not-at-top
  from serving.predictor import Prediction  # pylint: disable=g-import-not-at-top
  from tests.test_run_records import data_report, training_record
  png = report.threshold_chart({'thresholds': [0.1, 0.9], 'precision': [0.2, 0.8],
                                'recall': [0.9, 0.1]}, [0.35])
  # TFMA's per-label figures (class_id sub-keys) as `load_slices` gathers them; label
  # 1 has no test paper, so no AUC.
  by_label = {'support': {0: 40.0, 1: 0.0}, 'precision': {0: 0.7, 1: 0.0},
              'recall': {0: 0.6, 1: 0.0}, 'f1': {0: 0.65, 1: 0.0}, 'auc': {0: 0.9}}
  per_label = {'confusions': [{'true': 0, 'predicted': 1, 'count': 3}],
               'threshold_curve': {'thresholds': [0.1, 0.9], 'precision': [0.2, 0.8],
                                   'recall': [0.9, 0.1]}}
  overall = report.SliceResult('Overall', {'micro_f1': 0.61, 'macro_f1': 0.3,
                                           'hamming_loss': 0.01, 'example_count': 42.0,
                                           multilabel_metrics.PER_LABEL: per_label,
                                           report.BY_LABEL: by_label},
                               {'micro_f1': 0.6, 'hamming_loss': 0.02})
  interval = {'estimate': 0.61, 'low': 0.55, 'high': 0.67}
  return report.ReportData(
      summary={'pipeline_name': 'arxiv', 'run_id': '2026-01-01T00:00:00',
               'data_path': 'papers.csv', 'data_check': {
                   'verdict': 'warn', 'problems': ['label drift <too far>'],
                   'drift': {'label': {'measure': 'L-infinity', 'value': 0.3,
                                       'threshold': 0.1, 'drifted': True}}}},
      data_report=data_report(), training=training_record(),
      curves={'loss': png}, slices=[overall, report.SliceResult(
          'label_count = 1', {'micro_f1': 0.7, 'example_count': 30.0}, {})],
      blessed=blessed, reasons=['micro_f1 0.6100 ≥ 0.5 required'],
      labels=['cs.LG', 'cs.CV'], thresholds=[0.35, 0.35], baseline_labels=['cs.LG', 'cs.CV'],
      examples=[(executor.ExamplePaper(title, 'An abstract. ' * 60, ('cs.LG',)),
                 Prediction(['cs.LG', 'cs.CV'], [('cs.LG', 0.9), ('cs.CV', 0.5)], {}))],
      intervals={side: {m: interval for m in ('micro_f1', 'macro_f1', 'precision_at_1')}
                 for side in ('a', 'b', 'a_minus_b')},
      prior_labels=['cs.LG'], test_papers=42)


def test_the_html_escapes_what_it_shows_and_the_markdown_shows_it_as_written():
  from pipeline import report  # pylint: disable=g-import-not-at-top
  view = report.view(synthetic_report_data(), '/reports/report.html')
  page = report.render(view, report.REPORT_HTML)
  assert page.startswith('<!DOCTYPE html>')
  assert '<b>A &lt;b&gt;bold&lt;/b&gt; claim &amp; more</b>' in page
  assert 'label drift &lt;too far&gt;' in page
  assert '<td>micro F1 (blessing metric)</td><td>0.6100</td><td>0.550 to 0.670</td>' in page
  # Hamming loss fell: a change for the better; an unmeasured AUC is a dash.
  assert '<td>Hamming loss (lower is better)</td><td>0.0100</td><td>–</td><td>0.0200</td>' \
         '<td><span class="up">-0.0100</span></td>' in page
  assert '<td>cs.CV</td><td>0</td><td>0.000</td><td>0.000</td><td>0.000</td><td>–</td>' in page
  assert '<span class="tag hit">cs.LG</span><span class="tag miss">cs.CV</span>' in page
  assert len(re.findall(r'<img id="[a-z0-9-]+" alt="[^"]+" src="data:image/png;base64,',
                        page)) == 3
  markdown = report.render(view, report.REPORT_MARKDOWN)
  assert '**Not blessed: not pushed.**\n- micro_f1 0.6100 ≥ 0.5 required\n' in markdown
  assert '| micro F1 (blessing metric) | 0.6100 | 0.550 to 0.670 | 0.6000 | +0.0100 |' in (
      markdown)
  assert '|---|---|---|---|---|\n' in markdown
  assert 'micro F1 +0.610 (+0.550 to +0.670); macro F1' in markdown
  assert 'Data check: warn; drift of test from train: label L-infinity 0.3000' in markdown
  assert 'Weakest labels with at least 20 test papers: cs.LG (F1 0.65, 40 papers).' in markdown
  assert '&lt;' not in markdown and '&amp;' not in markdown


def test_the_report_and_the_run_summary_word_the_same_facts_alike():
  from pipeline import formatting  # pylint: disable=g-import-not-at-top
  from pipeline import report  # pylint: disable=g-import-not-at-top
  from pipeline import run_summary  # pylint: disable=g-import-not-at-top
  data = synthetic_report_data()
  view = report.view(data, 'report.html')
  record, data_report = data.training, data.data_report
  printed = run_summary.format_summary({
      'run_id': 'r', 'pipeline_name': 'p',
      'data': data_report.model_dump(include={'rows_read', 'rows_dropped', 'dropped_examples',
                                             'rows_kept', 'split_sizes', 'spans'}),
      'model': record.model_dump(include={'num_labels', 'vocabulary_size', 'parameters',
                                         'members', 'threshold'})})
  for fact in (view.training, formatting.split_sizes(data_report.split_sizes), view.months,
               view.dropped):
    assert fact in printed, fact
  assert view.months == 'train 2026-01..2026-02, eval 2026-02, test 2026-03'


def test_blessing_reasons_say_which_checks_passed_and_why():
  from pipeline import report  # pylint: disable=g-import-not-at-top
  from components import evaluation  # pylint: disable=g-import-not-at-top
  overall = report.SliceResult('Overall', {
      'micro_f1': 0.61, 'micro_f1_lift_over_priors': 0.08,
      'micro_f1_lift_over_priors_lower': 0.03, 'micro_f1_lift_over_priors_upper': 0.13,
      'precision_at_1_lift_over_priors': 0.01,
      'precision_at_1_lift_over_priors_lower': -0.02,
      'precision_at_1_lift_over_priors_upper': 0.04}, {'micro_f1': 0.63})
  reasons = [reason for spec in evaluation.eval_config(0.5, 0.01).metrics_specs
             for metric in spec.metrics for threshold in metric.per_slice_thresholds
             for reason in report._threshold_reasons(  # pylint: disable=protected-access
                 metric, threshold.threshold, overall)]
  assert reasons == [
      'passed: micro_f1 0.6100 ≥ 0.5 required',
      'failed: micro_f1 changed by -0.0200 against the latest blessed model (0.6300); at '
      'least -0.01 allowed',
      'passed: micro F1 lift over label priors +0.080 (95% interval +0.030 to +0.130); its '
      'lower bound must be above 0',
      'failed: precision@1 lift over label priors +0.010 (95% interval -0.020 to +0.040); its '
      'lower bound must be above 0']
