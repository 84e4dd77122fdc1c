"""Dirty input files: each case completes with the damage counted, or stops naming the file.

Policies (docs/data.md): a bad record is dropped and counted under
its reason, the data report names the first ones by file, record and line; a file
that cannot be read as our CSV at all stops the run before any Beam work.
"""

import csv
import io
import os

import pytest

from components.example_gen import records
from tests.conftest import run_example_gen

HEADER = b'titles,summaries,terms\n'


def good_rows(count=200):
  """Two label combinations, enough papers for every split."""
  return [(f'Good paper {i}', f'An abstract about topic {i}.',
           "['cs.CV']" if i % 2 else "['cs.LG', 'stat.ML']") for i in range(count)]


def csv_bytes(rows) -> bytes:
  text = io.StringIO()
  csv.writer(text, lineterminator='\n').writerows(rows)
  return text.getvalue().encode('utf-8')


def write(tmp_path, content: bytes, name='papers.csv') -> str:
  path = str(tmp_path / name)
  with open(path, 'wb') as f:
    f.write(content)
  return path


def total(report):
  return report['rows_kept'] + sum(report['rows_dropped'].values())


def test_each_bad_record_is_dropped_with_its_reason_and_named(tmp_path):
  marker = tmp_path / 'evaluated'
  bad = [
      ('', 'No title.', "['cs.CV']"),
      ('   ', 'Whitespace title.', "['cs.CV']"),
      ('Empty abstract', '', "['cs.CV']"),
      ('Whitespace abstract', ' \t\n ', "['cs.CV']"),
      ('Not a list', 'Abstract.', 'cs.CV, cs.LG'),
      ('Empty list', 'Abstract.', '[]'),
      ('Code', 'Abstract.', f"[__import__('pathlib').Path('{marker}').touch()]"),
      ('Huge abstract', 'word ' * 600_000, "['cs.CV']"),  # 3 MB
      ('Short row', 'Abstract.'),
  ]
  content = (HEADER + csv_bytes(good_rows()) + csv_bytes(bad) +
             b'Bad bytes \xff\xfe,Abstract.,"[\'cs.CV\']"\n' +
             b'NUL byte,Abs\x00tract.,"[\'cs.CV\']"\n')
  path = write(tmp_path, content)
  report, splits = run_example_gen(str(tmp_path / 'run'), path)

  assert report['rows_read'] == 200 + len(bad) + 2 == total(report)
  assert report['rows_kept'] == 200 == sum(len(s) for s in splits.values())
  assert {reason: n for reason, n in report['rows_dropped'].items() if n} == {
      'empty_title': 2, 'empty_abstract': 2, 'unparsable_terms': 2, 'no_labels': 1,
      'oversized_field': 1, 'malformed_row': 2, 'invalid_utf8': 1}
  assert not marker.exists()  # Code in `terms` is data, never run.
  examples = report['dropped_examples']
  assert examples['oversized_field'] == [{
      'file': path, 'record': 208,
      'detail': 'line 210: summaries has 3,000,000 characters (at most 100,000); a quote '
                'left open?'}]
  assert [e['detail'] for e in examples['malformed_row']] == [
      'line 211: 2 fields where the header has 3', 'line 213: line contains NUL']
  assert examples['invalid_utf8'][0]['record'] == 210


def test_repeated_and_padded_labels_are_cleaned_and_kept(tmp_path):
  rows = [(f'Paper {i}', 'Abstract.', "[' cs.CV', 'cs.CV ', 'cs.LG']") for i in range(60)]
  report, splits = run_example_gen(str(tmp_path / 'run'), write(tmp_path, HEADER + csv_bytes(
      rows)))
  assert report['rows_kept'] == 60
  assert {labels for split in splits.values() for _, labels in split.values()} == {
      ('cs.CV', 'cs.LG')}


def test_columns_in_another_order_with_extra_columns(tmp_path):
  rows = [('x', terms, abstract, title, 'y') for title, abstract, terms in good_rows()]
  content = b'id,terms,summaries,titles,year\n' + csv_bytes(rows)
  report, splits = run_example_gen(str(tmp_path / 'run'), write(tmp_path, content))
  assert report['rows_kept'] == 200
  assert splits['train']['Good paper 1'] == ('An abstract about topic 1.', ('cs.CV',))


def test_an_empty_file_stops_the_run_naming_it(tmp_path):
  path = write(tmp_path, b'')
  with pytest.raises(records.InputError, match=f'{path}: the file is empty'):
    run_example_gen(str(tmp_path / 'run'), path)


def test_a_header_without_rows_stops_the_run_with_the_reason(tmp_path):
  with pytest.raises(records.InputError, match=r'split\(s\) train, eval, test are empty.*0 '
                     'rows read'):
    run_example_gen(str(tmp_path / 'run'), write(tmp_path, HEADER))


def test_an_unclosed_quote_on_the_last_line_loses_only_that_record(tmp_path):
  content = HEADER + csv_bytes(good_rows()) + b'Truncated,"An abstract that never ends\n'
  report, _ = run_example_gen(str(tmp_path / 'run'), write(tmp_path, content))
  assert report['rows_kept'] == 200
  assert report['rows_dropped']['malformed_row'] == 1 and total(report) == 201


def test_an_unclosed_quote_mid_file_is_reported_with_the_lines_it_swallowed(tmp_path):
  tail = [(f'Tail paper {i}', 'Abstract.', "['cs.CV']") for i in range(100)]
  content = (HEADER + csv_bytes(good_rows(100)) +
             b'Open quote,"Starts here and never closes,[\'cs.CV\']\n' + csv_bytes(tail))
  report, _ = run_example_gen(str(tmp_path / 'run'), write(tmp_path, content))
  # The open quote runs to the end of the file: one malformed record, named with its
  # line span, and every row before it kept.
  assert report['rows_kept'] == 100
  [example] = report['dropped_examples']['malformed_row']
  assert example['detail'].startswith('lines 102-202:')


def test_every_row_duplicated_keeps_one_of_each(tmp_path):
  rows = good_rows()
  report, splits = run_example_gen(str(tmp_path / 'run'), write(tmp_path, HEADER + csv_bytes(
      rows + rows)))
  assert report['rows_read'] == 400
  assert report['rows_dropped']['duplicate_title'] == 200
  assert report['rows_kept'] == 200 == sum(len(s) for s in splits.values())


def test_files_of_a_glob_are_all_read_and_blank_lines_are_not_records(tmp_path):
  rows = good_rows()
  write(tmp_path, HEADER + csv_bytes(rows[:100]) + b'\n\n', 'part-1.csv')
  write(tmp_path, HEADER + csv_bytes(rows[100:]), 'part-2.csv')
  report, _ = run_example_gen(str(tmp_path / 'run'), os.path.join(tmp_path, 'part-*.csv'))
  assert report['rows_read'] == report['rows_kept'] == 200
