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
