"""Pure record logic of the arXiv ExampleGen: CSV parsing, cleaning and splitting.

Nothing here needs Beam or TensorFlow, so each rule is unit-tested on its own; the
executor wires these functions into a Beam pipeline.
"""

import csv
import enum
import hashlib
import io
import re
from typing import Iterable, Iterator, List, NamedTuple, Sequence, Tuple, Union

from components import errors
from components import features

# Abstracts run to a few KB; the csv module's default field limit (128 KiB) would
# reject a long one. Larger fields are still read and then judged by their length.
_CSV_FIELD_SIZE_LIMIT = 64 * 1024 * 1024
# arXiv caps abstracts at 1,920 characters: a field 50 times longer is not a paper
# (often a quote left open that swallowed the lines after it).
MAX_FIELD_CHARS = 100_000


class DropReason(str, enum.Enum):
  """Why a CSV record did not become an example. Every dropped row has one."""
  MALFORMED_ROW = 'malformed_row'  # Not a CSV record with the header's fields.
  INVALID_UTF8 = 'invalid_utf8'
  EMPTY_TITLE = 'empty_title'
  EMPTY_ABSTRACT = 'empty_abstract'
  OVERSIZED_FIELD = 'oversized_field'
  UNPARSABLE_TERMS = 'unparsable_terms'
  NO_LABELS = 'no_labels'
  DUPLICATE_TITLE = 'duplicate_title'
  RARE_LABEL_COMBINATION = 'rare_label_combination'


class InputError(errors.DataError):
  """The input cannot be read at all (no file, no header, missing columns, empty splits)."""


class TermsError(ValueError):
  """A `terms` value is not a list literal of strings."""


class Paper(NamedTuple):
  """One cleaned CSV record."""
  source: Tuple[str, int]  # (file, 0-based record number): orders duplicates.
  title: str
  abstract: str
  labels: Tuple[str, ...]


class Dropped(NamedTuple):
  source: Tuple[str, int]
  reason: DropReason
  detail: str


# One quoted Python string literal, single- or double-quoted, with escapes.
_STRING_LITERAL = re.compile(r"""'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)\"""", re.S)
_SEPARATOR = re.compile(r'\s*(,|\])\s*')
_ESCAPE = re.compile(r'\\(.)', re.S)
# surrogateescape decodes each invalid byte to a lone surrogate U+DC80..U+DCFF. A
# regular expression scans in C: a Python loop over every character was 40% of
# ExampleGen's time.
_UNDECODABLE_BYTE = re.compile('[\udc80-\udcff]')


def parse_terms(text: str) -> Tuple[str, ...]:
  """Parses a `terms` value such as "['cs.CV', 'cs.LG']" into its labels.

  The value is parsed as data by a linear scanner, never evaluated: only a
  bracketed, comma-separated list of quoted strings is accepted. Labels are
  stripped of surrounding whitespace; empty ones and repeats are dropped, the
  first-listed order (the primary category first) is kept.
  """
  body = text.strip()
  if not body.startswith('['):
    raise TermsError(f'expected a list literal such as "[\'cs.LG\']", got {text[:80]!r}')
  labels = []
  position = _skip_spaces(body, 1)
  if body[position:position + 1] == ']':
    position += 1
  else:
    while True:
      literal = _STRING_LITERAL.match(body, position)
      if not literal:
        raise TermsError(f'expected a quoted label at character {position} of {text[:80]!r}')
      raw = literal.group(1) if literal.group(1) is not None else literal.group(2)
      labels.append(_ESCAPE.sub(r'\1', raw).strip())
      separator = _SEPARATOR.match(body, literal.end())
      if not separator:
        raise TermsError(f'expected "," or "]" at character {literal.end()} of {text[:80]!r}')
      position = separator.end()
      if separator.group(1) == ']':
        break
      if body[position:position + 1] == ']':  # A trailing comma, as Python allows.
        position += 1
        break
  if position != len(body):
    raise TermsError(f'unexpected text after the list in {text[:80]!r}')
  return tuple(dict.fromkeys(label for label in labels if label))


def _skip_spaces(text: str, position: int) -> int:
  while position < len(text) and text[position].isspace():
    position += 1
  return position


def read_csv_records(path: str, stream: Iterable[str]) -> Iterator[Union[Paper, Dropped]]:
  """Yields a Paper or a Dropped for every record of one CSV file.

  `stream` yields the file's text lines (decoded with errors='surrogateescape',
  so that invalid UTF-8 is reported per row instead of failing the file). A
  Dropped's detail names the record's lines. Blank lines are not records. Raises
  InputError when the header lacks a required column.
  """
  csv.field_size_limit(_CSV_FIELD_SIZE_LIMIT)
  reader = csv.reader(stream)
  try:
    header = next(reader)
  except StopIteration:
    raise InputError(f'{path}: the file is empty; expected a header with columns '
                     f'{", ".join(features.CSV_REQUIRED_COLUMNS)}') from None
  columns = column_indices(path, header)
  record = 0
  while True:
    source = (path, record)
    first_line = reader.line_num + 1
    try:
      row = next(reader)
    except StopIteration:
      return
    except csv.Error as error:  # A NUL byte, for one.
      result = Dropped(source, DropReason.MALFORMED_ROW, str(error))
    else:
      if not row:
        continue
      result = clean_record(source, row, len(header), columns)
    if isinstance(result, Dropped):
      lines = (f'line {first_line}' if reader.line_num <= first_line else
               f'lines {first_line}-{reader.line_num}')
      result = result._replace(detail=f'{lines}: {result.detail}')
    yield result
    record += 1


def column_indices(path: str, header: Sequence[str]) -> Tuple[int, int, int]:
  """Positions of the title, abstract and terms columns in a header row."""
  names = [name.strip().lstrip('\ufeff') for name in header]
  missing = [name for name in features.CSV_REQUIRED_COLUMNS if name not in names]
  if missing:
    raise InputError(f'{path}: missing required column(s) {", ".join(missing)}; '
                     f'the header has {names!r}')
  return tuple(names.index(name) for name in features.CSV_REQUIRED_COLUMNS)


def clean_record(source: Tuple[str, int], row: List[str], width: int,
                 columns: Tuple[int, int, int]) -> Union[Paper, Dropped]:
  """Validates one CSV row and turns it into a Paper, or says why it is dropped."""
  if len(row) != width:
    return Dropped(source, DropReason.MALFORMED_ROW,
                   f'{len(row)} fields where the header has {width}')
  title, abstract, terms = (row[i] for i in columns)
  if any(_UNDECODABLE_BYTE.search(value) for value in (title, abstract, terms)):
    return Dropped(source, DropReason.INVALID_UTF8, 'bytes that are not UTF-8')
  for name, value in zip(features.CSV_REQUIRED_COLUMNS, (title, abstract, terms)):
    if len(value) > MAX_FIELD_CHARS:
      return Dropped(source, DropReason.OVERSIZED_FIELD,
                     f'{name} has {len(value):,} characters (at most {MAX_FIELD_CHARS:,}); '
                     'a quote left open?')
  title = ' '.join(title.split())
  if not title:
    return Dropped(source, DropReason.EMPTY_TITLE, 'the title is empty')
  if not abstract.strip():
    return Dropped(source, DropReason.EMPTY_ABSTRACT, 'the abstract is empty')
  try:
    labels = parse_terms(terms)
  except TermsError as error:
    return Dropped(source, DropReason.UNPARSABLE_TERMS, str(error))
  if not labels:
    return Dropped(source, DropReason.NO_LABELS, 'the terms list is empty')
  return Paper(source, title, abstract.strip(), labels)


def text_lines(binary_stream) -> io.TextIOWrapper:
  """Decodes a binary file stream for `read_csv_records`."""
  return io.TextIOWrapper(binary_stream, encoding='utf-8-sig', errors='surrogateescape',
                          newline='')


def duplicate_key(title: str) -> str:
  """Titles that differ only in case or whitespace name the same paper."""
  return ' '.join(title.casefold().split())


def combination_key(labels: Sequence[str]) -> Tuple[str, ...]:
  """The label set a paper is stratified on: order and repeats do not matter."""
  return tuple(sorted(set(labels)))


_FINGERPRINT_BITS = 63  # Beam's integer coder takes signed 64-bit values.


def fingerprint(*parts: str) -> int:
  """A 63-bit hash of `parts`, the same in every process (unlike hash()).

  The shuffles carry fingerprints of titles and label sets instead of the text: a
  few bytes a paper. Two different titles collide with odds of about n^2 / 2^64
  (5e-8 for a million papers).
  """
  digest = hashlib.blake2b('\x1f'.join(parts).encode('utf-8', 'surrogatepass'),
                           digest_size=8).digest()
  return int.from_bytes(digest, 'big') >> (64 - _FINGERPRINT_BITS)


def unit_hash(seed: int, *parts: str) -> float:
  """A uniform number in [0, 1), the same in every process (unlike hash())."""
  return fingerprint(str(seed), *parts) / 2.0**_FINGERPRINT_BITS


def split_for_rank(rank: int, group_size: int, offset: float,
                   fractions: Sequence[float]) -> int:
  """Systematic stratified sampling: which split the rank-th member of a group joins.

  Members are spread evenly over [0, 1) from a random `offset`, so every split gets
  its fraction of the group to within one row, and the rounding is unbiased across
  groups.
  """
  position = (rank + offset) / group_size
  boundary = 0.0
  for index, fraction in enumerate(fractions[:-1]):
    boundary += fraction
    if position < boundary:
      return index
  return len(fractions) - 1
