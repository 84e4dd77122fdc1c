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
  assert 'Against the label-priors baseline' in markdown and '> ' in markdown


def test_counts_are_integers_and_metrics_keep_their_decimals():
  from pipeline import report  # pylint: disable=g-import-not-at-top
  assert report._count(7.0) == '7' and report._count(1234.0) == '1,234'
  assert report._number(1.0) == '1.0000' and report._number(0.53521) == '0.5352'
  assert report._interval({'low': -0.01, 'high': 0.02}, signed=True) == '-0.010 to +0.020'


def test_f1_support_chart_labels_no_point_at_zero(monkeypatch):
  from matplotlib.axes import Axes  # pylint: disable=g-import-not-at-top
  from pipeline import report  # pylint: disable=g-import-not-at-top
  rows = [{'label': f'l{i}', 'support': 100 - i, 'f1': 0.0 if i % 2 else 0.5}
          for i in range(60)]
  labelled = []
  monkeypatch.setattr(Axes, 'annotate', lambda self, text, *a, **k: labelled.append(text))
  assert report.f1_support_chart(rows)[:4] == b'\x89PNG'
  assert labelled == [f'l{i}' for i in range(0, 24, 2)]  # 12 points, none at F1 = 0.
