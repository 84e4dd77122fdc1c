"""`make bench-scale`'s own logic: what each component is charged, how a run that was
killed is reported, and the table."""

import json
import logging
import signal

from benchmarks import scale


def test_time_and_memory_are_charged_to_the_component_running_and_kept_on_disk(tmp_path):
  progress = scale.ComponentProgress(str(tmp_path / 'progress.json'))

  def record(message, node):
    return logging.LogRecord('absl', logging.INFO, __file__, 1, message, (node,), None)
  progress.emit(record('Component %s is running.', 'Transform'))
  progress.emit(record('Component %s is finished.', 'Transform'))
  progress.emit(record('Component %s is running.', 'Trainer'))
  progress._record()  # pylint: disable=protected-access  # A sample, as the thread takes.
  # Written at each change of component: what a killed run leaves.
  on_disk = json.loads((tmp_path / 'progress.json').read_text())
  assert on_disk['running'] == 'Trainer' and list(on_disk['components']) == ['Transform']
  assert on_disk['component_peak_rss_mib']['Transform'] > 50
  assert list(progress.figures()['components']) == ['Transform', 'Trainer']
  assert progress.peaks['Trainer'] > 50


def test_a_sigkill_near_all_the_memory_is_named_out_of_memory():
  total = scale.memory_total_mib()
  assert scale.how_it_ended(-signal.SIGKILL, total - 100).startswith('killed: out of memory')
  assert scale.how_it_ended(-signal.SIGKILL, total // 4) == 'killed by SIGKILL'
  assert scale.how_it_ended(1, 900) == 'failed (exit status 1)'


def test_the_table_shows_each_components_growth_and_where_a_size_failed():
  results = [
      {'rows': 100, 'wall_seconds': 10.0, 'peak_rss_mib': 900,
       'components': {'Transform': 3.0, 'Trainer': 4.0, 'Evaluator': 2.0},
       'component_peak_rss_mib': {'Transform': 600, 'Trainer': 800, 'Evaluator': 700}},
      {'rows': 1000, 'wall_seconds': 130.0, 'peak_rss_mib': 2000,
       'components': {'Transform': 33.0, 'Trainer': 48.0, 'Evaluator': 20.0},
       'component_peak_rss_mib': {'Transform': 900, 'Trainer': 2000, 'Evaluator': 1000}},
      {'rows': 10000, 'wall_seconds': 400.0, 'peak_rss_mib': 9000,
       'components': {'Transform': 360.0, 'Trainer': 30.0},
       'component_peak_rss_mib': {'Transform': 1200, 'Trainer': 9000},
       'failed': {'component': 'Trainer', 'how': 'killed: out of memory'}},
  ]
  assert scale.scale_table(results) == [
      '| component | 100 rows: s / peak MiB | 1,000 rows: s / peak MiB | '
      '10,000 rows: s / peak MiB | time growth ÷ row growth |',
      '|---|---|---|---|---|',
      '| Transform | 3.0 / 600 | 33.0 / 900 | 360.0 / 1,200 | 1.20 |',
      '| Trainer | 4.0 / 800 | 48.0 / 2,000 | 30.0 / 9,000 killed: out of memory | 1.20 |',
      '| Evaluator | 2.0 / 700 | 20.0 / 1,000 | – / – | 1.00 |',
      '| whole run | 10.0 / 900 | 130.0 / 2,000 | failed in Trainer | 1.30 |',
  ]
