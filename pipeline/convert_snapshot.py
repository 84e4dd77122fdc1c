"""Converts arXiv's metadata snapshot into month files the pipeline reads.

    python pipeline/convert_snapshot.py --snapshot arxiv-metadata-oai-snapshot.json \\
        --out-dir data/arxiv --categories 'cs.*' --from-month 2025-03

The snapshot is the JSON-lines file most people who train on arXiv start from (one
object a paper: `id`, `title`, `abstract`, `categories` space-separated with the
primary first, `versions`, `update_date`, ...; plain or gzip-compressed). Each paper
whose categories match `--categories` (`cs.*`, a list such as `cs.LG,stat.ML`, or
`all`) goes to the file of its arXiv id's month, `<prefix>_YYYY-MM.csv.gz`, in the
layout of pipeline/arxiv_papers.py. Lines that are not a paper are counted by reason
and left out, as ExampleGen does with CSV rows; an id listed twice counts once (the
later line). Papers are staged month by month in a hidden folder, so memory stays at
one month whatever the snapshot's size, and each month file is written atomically.
"""

import argparse
import collections
import csv
import dataclasses
import gzip
import json
import os
import shutil
import sys
import tempfile
from typing import Dict, List, Optional, TextIO

if __package__ in (None, ''):  # Run as `python pipeline/convert_snapshot.py`.
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pipeline import arxiv_papers  # pylint: disable=wrong-import-position

# Month files kept open while staging; the snapshot is in id order, so months arrive
# one after another and few are ever reopened.
_OPEN_MONTHS = 32


@dataclasses.dataclass
class ConversionReport:
  files: Dict[str, int]  # path -> papers
  lines: int
  dropped: arxiv_papers.DropCounts


class _MonthStage:
  """Appends each month's rows to its own CSV file in a hidden staging folder."""

  def __init__(self, directory: str):
    self.directory = directory
    self._open: 'collections.OrderedDict[str, TextIO]' = collections.OrderedDict()

  def add(self, paper: arxiv_papers.ArxivPaper) -> None:
    month = paper.month
    if month in self._open:
      self._open.move_to_end(month)
    else:
      if len(self._open) >= _OPEN_MONTHS:
        self._open.popitem(last=False)[1].close()
      self._open[month] = open(os.path.join(self.directory, month), 'a', encoding='utf-8',
                               newline='')
    csv.writer(self._open[month]).writerow(
        (paper.arxiv_id, paper.title, paper.abstract, ' '.join(paper.categories)))

  def months(self) -> List[str]:
    for handle in self._open.values():
      handle.close()
    self._open.clear()
    return sorted(os.listdir(self.directory))

  def papers(self, month: str) -> List[arxiv_papers.ArxivPaper]:
    with open(os.path.join(self.directory, month), encoding='utf-8', newline='') as f:
      return [arxiv_papers.ArxivPaper(arxiv_id, title, abstract, tuple(categories.split()))
              for arxiv_id, title, abstract, categories in csv.reader(f)]


def paper_of_line(line: bytes) -> arxiv_papers.ArxivPaper:
  """A snapshot line's paper. Raises ValueError with the reason as its first word."""
  try:
    text = line.decode('utf-8').rstrip('\r\n')
  except UnicodeDecodeError as error:
    raise ValueError(f'invalid_utf8: byte {error.start}') from error
  try:
    entry = json.loads(text)
  except json.JSONDecodeError as error:
    raise ValueError(f'invalid_json: {error.msg}') from error
  if not isinstance(entry, dict):
    raise ValueError(f'not_an_object: a JSON {type(entry).__name__}')
  fields = {}
  for name in ('id', 'title', 'abstract', 'categories'):
    if not isinstance(entry.get(name), str):
      raise ValueError(f'missing_field: no text {name!r}')
    fields[name] = entry[name]
  try:
    return arxiv_papers.clean_paper(fields['id'], fields['title'], fields['abstract'],
                                    fields['categories'].split())
  except ValueError as error:
    raise ValueError(f'invalid_paper: {error}') from error


def convert(snapshot: str, out_dir: str, categories: arxiv_papers.CategoryFilter, prefix: str,
            first_month: str = '', last_month: str = '') -> ConversionReport:
  """Writes a month file for each month of the snapshot's matching papers."""
  dropped = arxiv_papers.DropCounts()
  os.makedirs(out_dir, exist_ok=True)
  staging = tempfile.mkdtemp(prefix='.snapshot-staging-', dir=out_dir)
  try:
    stage = _MonthStage(staging)
    lines = 0
    opener = gzip.open if snapshot.endswith('.gz') else open
    with opener(snapshot, 'rb') as f:
      for lines, raw_line in enumerate(f, 1):
        if not raw_line.strip():
          continue
        try:
          paper = paper_of_line(raw_line)
        except ValueError as error:
          reason, _, detail = str(error).partition(': ')
          dropped.add(reason, f'line {lines}: {detail[:80]}')
          continue
        if not categories(paper.categories):
          dropped.add('no_matching_category')
        elif (first_month and paper.month < first_month) or (
            last_month and paper.month > last_month):
          dropped.add('outside_the_months')
        else:
          stage.add(paper)
    files = {}
    for month in stage.months():
      by_id = {}
      for paper in stage.papers(month):
        if paper.arxiv_id in by_id:
          dropped.add('duplicate_id', paper.arxiv_id)
        by_id[paper.arxiv_id] = paper
      path = arxiv_papers.month_file(out_dir, prefix, month)
      files[path] = arxiv_papers.write_month_file(path, by_id.values())
    return ConversionReport(files, lines, dropped)
  finally:
    shutil.rmtree(staging)


def main(argv: Optional[List[str]] = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--snapshot', required=True,
                      help='arxiv-metadata-oai-snapshot.json (or .json.gz)')
  parser.add_argument('--out-dir', required=True, help='where the month files go')
  parser.add_argument('--categories', default='cs.*',
                      help='keep papers with a category matching these: cs.*, '
                      'cs.LG,stat.ML, or all (default: %(default)s)')
  parser.add_argument('--prefix', default='',
                      help='file name prefix (default: arxiv_cs for cs.*, else arxiv)')
  parser.add_argument('--from-month', default='', help='first month to write, YYYY-MM')
  parser.add_argument('--to-month', default='', help='last month to write, YYYY-MM')
  args = parser.parse_args(argv)
  try:
    categories = arxiv_papers.CategoryFilter(args.categories)
    for month in (args.from_month, args.to_month):
      if month:
        arxiv_papers.check_month(month)
  except ValueError as error:
    parser.error(str(error))
  if not os.path.isfile(args.snapshot):
    parser.error(f'--snapshot {args.snapshot}: no such file')
  prefix = args.prefix or ('arxiv_cs' if args.categories == 'cs.*' else 'arxiv')
  report = convert(args.snapshot, args.out_dir, categories, prefix, args.from_month,
                   args.to_month)
  papers = sum(report.files.values())
  print(f'{report.lines:,} lines read: {papers:,} papers in {len(report.files)} month files '
        f'under {args.out_dir}' + (f' ({min(report.files)} ... {max(report.files)})'
                                   if report.files else ''))
  for line in report.dropped.lines():
    print(f'  left out: {line}')
  return 0 if report.files else 1


if __name__ == '__main__':
  sys.exit(main())
