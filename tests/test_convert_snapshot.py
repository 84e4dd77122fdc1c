"""The metadata snapshot's converter (pipeline/convert_snapshot.py), on a small file in
the snapshot's format."""

import gzip
import json
import os
import subprocess
import sys

from pipeline import arxiv_papers
from pipeline import convert_snapshot
from pipeline.config import REPOSITORY_ROOT
from tests.conftest import papers_example_gen_keeps, read_csv_rows


def paper(arxiv_id, categories, title='A title', abstract='  An abstract.\n', **extra):
  return json.dumps({
      'id': arxiv_id, 'submitter': 'Jane Doe', 'authors': 'J. Doe, R. Roe', 'title': title,
      'comments': '9 pages', 'journal-ref': None, 'doi': None, 'report-no': None,
      'categories': categories, 'license': None, 'abstract': abstract,
      'versions': [{'version': 'v1', 'created': 'Mon, 3 Mar 2025 10:00:00 GMT'}],
      'update_date': '2025-03-04', 'authors_parsed': [['Doe', 'J.', '']], **extra})


LINES = [
    paper('2503.00002', 'cs.LG stat.ML', title='Learning\n  to rank'),
    paper('2503.00001', 'cs.CV', abstract='  We segment $x$.\nTwo lines.\n'),
    paper('2504.00010', 'math.OC cs.SY'),
    paper('2504.00011', 'math.AG'),  # No cs category.
    paper('1905.00001', 'cs.AI'),  # Before --from-month.
    '{"id": "2503.00003", "title": "cut off',  # Invalid JSON.
    '["2503.00004"]',  # Not an object.
    paper('2503.00005', 'cs.CL', abstract=''),  # Empty abstract.
    json.dumps({'id': '2503.00006', 'title': 'No categories', 'abstract': 'x'}),
    paper('not-an-id', 'cs.CL'),
    paper('2503.00001', 'cs.CV cs.AI', title='Listed again'),  # The later line wins.
    '',
]


def write_snapshot(path, lines=LINES, extra=b''):
  data = ('\n'.join(lines) + '\n').encode() + extra
  with (gzip.open if path.endswith('.gz') else open)(path, 'wb') as f:
    f.write(data)
  return path


def test_papers_go_to_the_month_of_their_id_and_every_left_out_line_is_counted(tmp_path):
  snapshot = write_snapshot(str(tmp_path / 'arxiv-metadata-oai-snapshot.json.gz'),
                            extra=b'{"id": "2503.00007", "title": "\xff"}\n')
  out = str(tmp_path / 'months')
  report = convert_snapshot.convert(snapshot, out, arxiv_papers.CategoryFilter('cs.*'),
                                    'arxiv_cs', first_month='2025-01')
  march, april = (os.path.join(out, f'arxiv_cs_2025-0{m}.csv.gz') for m in (3, 4))
  assert report.files == {march: 2, april: 1} and report.lines == len(LINES) + 1
  assert read_csv_rows(march) == [
      ['Listed again', 'An abstract.', "['cs.CV', 'cs.AI']", '2503.00001'],
      ['Learning to rank', 'An abstract.', "['cs.LG', 'stat.ML']", '2503.00002']]
  assert papers_example_gen_keeps(march)[0] == (
      'Listed again', 'An abstract.', ('cs.CV', 'cs.AI'))
  assert read_csv_rows(april) == [
      ['A title', 'An abstract.', "['math.OC', 'cs.SY']", '2504.00010']]
  assert dict(report.dropped.counts) == {
      'no_matching_category': 1, 'outside_the_months': 1, 'invalid_json': 1,
      'not_an_object': 1, 'invalid_paper': 2, 'missing_field': 1, 'duplicate_id': 1,
      'invalid_utf8': 1}
  assert report.dropped.examples['invalid_json'] == [
      'line 6: Unterminated string starting at']
  assert sorted(os.listdir(out)) == ['arxiv_cs_2025-03.csv.gz', 'arxiv_cs_2025-04.csv.gz']


def test_the_command_converts_all_of_arxiv_and_says_what_it_wrote(tmp_path):
  snapshot = write_snapshot(str(tmp_path / 'snapshot.json'))
  command = [sys.executable, os.path.join(REPOSITORY_ROOT, 'pipeline', 'convert_snapshot.py'),
             '--snapshot', snapshot, '--out-dir', str(tmp_path / 'all'), '--categories', 'all']
  completed = subprocess.run(command, capture_output=True, text=True, timeout=60)
  assert completed.returncode == 0, completed.stderr
  assert '12 lines read: 5 papers in 3 month files' in completed.stdout
  assert 'left out: 2 invalid_paper (e.g. line 8: 2503.00005: no abstract; line 10:' in (
      completed.stdout)
  assert sorted(os.listdir(tmp_path / 'all')) == [
      'arxiv_2019-05.csv.gz', 'arxiv_2025-03.csv.gz', 'arxiv_2025-04.csv.gz']

  nothing = subprocess.run(command[:-1] + ['q-fin.*'], capture_output=True, text=True)
  assert nothing.returncode == 1 and '0 papers in 0 month files' in nothing.stdout
  bad = subprocess.run(command[:-1] + [' , '], capture_output=True, text=True)
  assert bad.returncode == 2 and 'no category pattern' in bad.stderr
