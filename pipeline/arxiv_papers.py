"""arXiv papers as the pipeline reads them: one CSV file per month of arXiv ids.

Shared by the two ways real data comes in, the OAI-PMH harvester (pipeline/harvest.py)
and the metadata snapshot's converter (pipeline/convert_snapshot.py), so both write
exactly the layout of `../shared/data/monthly/` and the bundled sample: columns
`titles, summaries, terms, arxiv_id`, `terms` a list literal with the primary category
first, rows sorted by arXiv id, gzip-compressed, one `<prefix>_YYYY-MM.csv.gz` a month.
"""

import collections
import csv
import dataclasses
import fnmatch
import gzip
import os
import re
from typing import Counter, Dict, Iterable, List, Optional, Tuple

from components import features

MONTH_FILE_COLUMNS = (features.CSV_TITLE_COLUMN, features.CSV_ABSTRACT_COLUMN,
                      features.CSV_TERMS_COLUMN, features.CSV_ARXIV_ID_COLUMN)

# 2501.01234 (since 2015-01: five digits) or 0704.0001 (2007-04 to 2014-12), with an
# optional version.
_NEW_STYLE_ID = re.compile(r'^(\d{2})(\d{2})\.\d{4,5}(v\d+)?$')
# Before 2007-04: the archive, an optional subject class, then YYMMNNN (hep-th/9901001,
# math.AG/0601001, cs/9901001).
_OLD_STYLE_ID = re.compile(r'^[a-z-]+(\.[A-Za-z-]+)?/(\d{2})(\d{2})\d{3}(v\d+)?$')
_MONTH = re.compile(r'^(\d{4})-(\d{2})$')
_WHITESPACE = re.compile(r'\s+')


@dataclasses.dataclass(frozen=True)
class ArxivPaper:
  """One paper: its id (no version), title, abstract and categories, primary first."""
  arxiv_id: str
  title: str
  abstract: str
  categories: Tuple[str, ...]

  @property
  def month(self) -> str:
    return month_of_id(self.arxiv_id)

  def row(self) -> Tuple[str, str, str, str]:
    """The paper as a month file's row (MONTH_FILE_COLUMNS)."""
    return self.title, self.abstract, repr(list(self.categories)), self.arxiv_id


def month_of_id(arxiv_id: str) -> str:
  """'YYYY-MM' of the month an arXiv id was assigned in, from the id alone."""
  new_style = _NEW_STYLE_ID.match(arxiv_id)
  if new_style:
    year, month = int(new_style[1]), int(new_style[2])
    year += 2000
  else:
    old_style = _OLD_STYLE_ID.match(arxiv_id)
    if not old_style:
      raise ValueError(f'{arxiv_id!r} is not an arXiv identifier (2501.01234 or hep-th/9901001)')
    year, month = int(old_style[2]), int(old_style[3])
    year += 1900 if year >= 91 else 2000  # arXiv started in 1991.
  if not 1 <= month <= 12:
    raise ValueError(f'{arxiv_id!r} is not an arXiv identifier: month {month:02d}')
  return f'{year:04d}-{month:02d}'


def check_month(month: str) -> str:
  """`month` if it reads YYYY-MM, else a ValueError saying so."""
  match = _MONTH.match(month)
  if not match or not 1 <= int(match[2]) <= 12:
    raise ValueError(f'{month!r} is not a month: expected YYYY-MM, e.g. 2026-06')
  return month


def clean_paper(arxiv_id: str, title: str, abstract: str, categories: Iterable[str]
                ) -> ArxivPaper:
  """A paper in the month files' form: the title's whitespace collapsed, the
  abstract stripped (its LaTeX and line breaks kept, as arXiv's API returns it),
  categories without repeats. Raises ValueError naming what is missing."""
  arxiv_id = re.sub(r'v\d+$', '', arxiv_id.strip())
  month_of_id(arxiv_id)
  title = _WHITESPACE.sub(' ', title).strip()
  abstract = abstract.strip()
  categories = tuple(dict.fromkeys(c for c in categories if c))
  for name, value in (('title', title), ('abstract', abstract), ('categories', categories)):
    if not value:
      raise ValueError(f'{arxiv_id}: no {name}')
  return ArxivPaper(arxiv_id, title, abstract, categories)


class CategoryFilter:
  """Which papers to keep by category: 'all', or comma-separated patterns such as
  'cs.*' or 'cs.LG,stat.ML'. A paper is kept when any of its categories matches; it
  keeps all its categories as labels (a cs paper cross-listed in math.OC is a math.OC
  example too, as in the shared data)."""

  def __init__(self, spec: str):
    self.spec = spec.strip()
    self.patterns = [] if self.spec == 'all' else [
        p.strip() for p in self.spec.split(',') if p.strip()]
    if self.spec != 'all' and not self.patterns:
      raise ValueError(f'no category pattern in {spec!r}: use e.g. cs.* or cs.LG,stat.ML or all')

  @classmethod
  def for_archive(cls, archive: str) -> 'CategoryFilter':
    """The categories of an archive (an OAI-PMH set such as 'cs' or 'physics:hep-th'):
    the archive itself and its subject classes."""
    name = archive.split(':')[-1]
    return cls(f'{name},{name}.*')

  def __call__(self, categories: Iterable[str]) -> bool:
    if not self.patterns:
      return True
    return any(fnmatch.fnmatchcase(c, p) for c in categories for p in self.patterns)


def month_file(out_dir: str, prefix: str, month: str) -> str:
  """Where a month's papers go: `<out_dir>/<prefix>_YYYY-MM.csv.gz`, the name the
  pipeline's `--data '<out_dir>/<prefix>_{YYYY}-{MM}.csv.gz'` reads."""
  return os.path.join(out_dir, f'{prefix}_{check_month(month)}.csv.gz')


def write_month_file(path: str, papers: Iterable[ArxivPaper]) -> int:
  """Writes the papers sorted by id, atomically: a temporary file beside `path`
  (hidden, so no `--data` pattern reads it) renamed over it once complete, so a killed
  writer never leaves a half month. Returns the number of rows."""
  rows = sorted((p.row() for p in papers), key=lambda row: row[3])
  directory, name = os.path.split(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  temporary = os.path.join(directory, f'.{name}.tmp')
  with gzip.open(temporary, 'wt', encoding='utf-8', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(MONTH_FILE_COLUMNS)
    writer.writerows(rows)
  os.replace(temporary, path)
  return len(rows)


@dataclasses.dataclass
class DropCounts:
  """Every record that did not become a row, by reason, with a few examples."""
  counts: Counter = dataclasses.field(default_factory=collections.Counter)
  examples: Dict[str, List[str]] = dataclasses.field(
      default_factory=lambda: collections.defaultdict(list))

  def add(self, reason: str, example: Optional[str] = None) -> None:
    self.counts[reason] += 1
    if example is not None and len(self.examples[reason]) < 3:
      self.examples[reason].append(example)

  def lines(self) -> List[str]:
    """One line per reason, most frequent first, with its examples."""
    return [f'{count:,} {reason}' + (f' (e.g. {"; ".join(self.examples[reason])})'
                                     if self.examples.get(reason) else '')
            for reason, count in self.counts.most_common()]
