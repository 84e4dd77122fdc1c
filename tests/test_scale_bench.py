"""`make bench-scale`'s own logic: which component memory is charged to, and its table."""

import logging

from benchmarks import scale


def test_memory_samples_are_charged_to_the_component_running():
  memory = scale.ComponentMemory()

  def record(message, node):
    return logging.LogRecord('absl', logging.INFO, __file__, 1, message, (node,), None)
  memory.emit(record('Component %s is running.', 'Trainer'))
  memory._record()  # pylint: disable=protected-access
  memory.emit(record('Component %s is finished.', 'Trainer'))
  memory._record()  # pylint: disable=protected-access
  assert list(memory.peaks) == ['Trainer'] and memory.peaks['Trainer'] > 50
  assert memory.running is None


def test_the_table_shows_each_components_growth_against_the_rows():
  results = [
      {'rows': 100, 'wall_seconds': 10.0, 'peak_rss_mib': 900,
       'components': {'Trainer': 4.0, 'Evaluator': 2.0, 'resolver': None},
       'component_peak_rss_mib': {'Trainer': 800, 'Evaluator': 700}},
      {'rows': 1000, 'wall_seconds': 130.0, 'peak_rss_mib': 2000,
       'components': {'Trainer': 48.0, 'Evaluator': 20.0, 'resolver': None},
       'component_peak_rss_mib': {'Trainer': 2000, 'Evaluator': 1000}},
  ]
  assert scale.scale_table(results) == [
      '| component | 100 rows: s / peak MiB | 1,000 rows: s / peak MiB | '
      'time growth ÷ row growth |',
      '|---|---|---|---|',
      '| Trainer | 4.0 / 800 | 48.0 / 2,000 | 1.20 |',
      '| Evaluator | 2.0 / 700 | 20.0 / 1,000 | 1.00 |',
      '| whole run | 10.0 / 900 | 130.0 / 2,000 | 1.30 |',
  ]
