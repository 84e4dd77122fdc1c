"""Span patterns: which monthly files a run reads, and the errors for gaps and typos."""

import os

import pytest

from components.example_gen import spans
from components.example_gen.records import InputError


def touch(directory, *names):
  for name in names:
    with open(os.path.join(directory, name), 'w') as f:
      f.write('titles,summaries,terms\n')


def months(selected):
  return [span.name for span in selected]


@pytest.fixture
def monthly(tmp_path):
  touch(tmp_path, 'arxiv_2025-11.csv', 'arxiv_2025-12.csv', 'arxiv_2026-01.csv',
        'arxiv_2026-02.csv', 'notes.txt', 'arxiv_latest.csv')
  return str(tmp_path / 'arxiv_{YYYY}-{MM}.csv')


def test_all_months_oldest_first_and_other_files_ignored(monthly):
  selected = spans.select(monthly)
  assert months(selected) == ['2025-11', '2025-12', '2026-01', '2026-02']
  assert selected[-1].path.endswith('arxiv_2026-02.csv')
  assert selected[-1].number - selected[0].number == 3


def test_a_new_month_is_picked_up(monthly, tmp_path):
  touch(tmp_path, 'arxiv_2026-03.csv')
  assert months(spans.select(monthly))[-1] == '2026-03'


def test_window_and_last_span_choose_the_months(monthly):
  assert months(spans.select(monthly, window=2)) == ['2026-01', '2026-02']
  assert months(spans.select(monthly, last='2026-01')) == ['2025-11', '2025-12', '2026-01']
  assert months(spans.select(monthly, last='2026-01', window=2)) == ['2025-12', '2026-01']


def test_a_missing_month_inside_the_window_is_named(monthly, tmp_path):
  os.remove(tmp_path / 'arxiv_2025-12.csv')
  with pytest.raises(InputError, match=r'span\(s\) 2025-12 missing'):
    spans.select(monthly)
  # Outside the window the gap does not matter.
  assert months(spans.select(monthly, window=2)) == ['2026-01', '2026-02']


def test_unknown_last_span_and_bad_month_are_clear_errors(monthly):
  with pytest.raises(InputError, match='no file for span 2024-01.*2025-11 to 2026-02'):
    spans.select(monthly, last='2024-01')
  with pytest.raises(InputError, match="'2026-13' is not a month"):
    spans.select(monthly, last='2026-13')


def test_one_span_is_not_enough(monthly):
  with pytest.raises(InputError, match='at least two spans'):
    spans.select(monthly, window=1)


def test_nothing_matching_and_malformed_patterns(tmp_path):
  with pytest.raises(InputError, match='no input file matches'):
    spans.select(str(tmp_path / 'none_{YYYY}-{MM}.csv'))
  with pytest.raises(InputError, match='needs both'):
    spans.select(str(tmp_path / 'x_{YYYY}.csv'))
  with pytest.raises(InputError, match='not both'):
    spans.select(str(tmp_path / 'x_{SPAN}_{YYYY}-{MM}.csv'))


def test_integer_spans_as_tfx_names_them(tmp_path):
  touch(tmp_path, 'span-7.csv', 'span-8.csv', 'span-10.csv')
  pattern = str(tmp_path / 'span-{SPAN}.csv')
  with pytest.raises(InputError, match=r'span\(s\) 9 missing'):
    spans.select(pattern)
  assert months(spans.select(pattern, last='8')) == ['7', '8']


def test_month_numbers_round_trip():
  assert spans.month_number('1970-01') == 0
  assert spans.month_name(spans.month_number('2026-05')) == '2026-05'
  assert spans.month_number('2026-01') - spans.month_number('2025-12') == 1
