"""Spans of a monthly input: which files a span pattern names, and which a run takes.

TFX's file-based ExampleGen names each drop of data a *span*, written into the
input pattern as `{SPAN}` (an integer) or a date spec; its driver lists the files
that match, reads each file's span from its name and takes the newest span, or
a range of spans (`RangeConfig`). arXiv data arrives by the month, which TFX's date
spec cannot name (it needs `{YYYY}`, `{MM}` and `{DD}`, a day), so this module
resolves `{YYYY}-{MM}` too: a month's span number is the months since 1970-01, as
TFX's is the days since 1970-01-01.

A run takes a window: the newest `window` spans up to `last` (by default the newest
of all), or all of them. Within the window no span may be missing: a month without
its file would silently train on a gap, so it stops the run naming the month.
"""

import re
from typing import List, NamedTuple, Tuple

from apache_beam.io.filesystems import FileSystems

from components.example_gen.records import InputError

SPAN_SPEC = '{SPAN}'
YEAR_SPEC = '{YYYY}'
MONTH_SPEC = '{MM}'
_SPECS = (SPAN_SPEC, YEAR_SPEC, MONTH_SPEC)


class Span(NamedTuple):
  number: int  # Orders spans: months since 1970-01, or the {SPAN} integer.
  name: str  # As a person writes it: '2026-05', or '7'.
  path: str


def is_span_pattern(pattern: str) -> bool:
  """Whether `pattern` names spans (monthly files), not one data set to split at random."""
  return any(spec in pattern for spec in _SPECS)


def is_monthly(pattern: str) -> bool:
  return YEAR_SPEC in pattern


def _check_specs(pattern: str) -> None:
  counts = {spec: pattern.count(spec) for spec in _SPECS}
  if counts[SPAN_SPEC] and (counts[YEAR_SPEC] or counts[MONTH_SPEC]):
    raise InputError(f'{pattern!r}: use either {SPAN_SPEC} or {YEAR_SPEC}-{MONTH_SPEC}, not both')
  if any(count > 1 for count in counts.values()):
    raise InputError(f'{pattern!r}: each of {", ".join(_SPECS)} may appear once')
  if bool(counts[YEAR_SPEC]) != bool(counts[MONTH_SPEC]):
    raise InputError(f'{pattern!r}: a month needs both {YEAR_SPEC} and {MONTH_SPEC}')


def glob_and_regex(pattern: str) -> Tuple[str, 're.Pattern[str]']:
  """The glob that lists a span pattern's files, and the regex that reads their span."""
  _check_specs(pattern)
  glob, regex = pattern, re.escape(pattern)
  for spec, digits, group in ((SPAN_SPEC, r'\d+', 'span'), (YEAR_SPEC, r'\d{4}', 'year'),
                              (MONTH_SPEC, r'\d{2}', 'month')):
    glob = glob.replace(spec, '*')
    regex = regex.replace(re.escape(spec), f'(?P<{group}>{digits})')
  # Other glob characters of the pattern (a '*' in a folder name) match anything.
  regex = regex.replace(re.escape('*'), '[^/]*').replace(re.escape('?'), '[^/]')
  return glob, re.compile(regex)


def month_number(name: str) -> int:
  """'2026-05' -> months since 1970-01."""
  match = re.fullmatch(r'(\d{4})-(\d{2})', name.strip())
  if not match or not 1 <= int(match.group(2)) <= 12:
    raise InputError(f'{name!r} is not a month; expected YYYY-MM, e.g. 2026-05')
  return (int(match.group(1)) - 1970) * 12 + int(match.group(2)) - 1


def month_name(number: int) -> str:
  return f'{1970 + number // 12:04d}-{number % 12 + 1:02d}'


def span_number(pattern: str, name: str) -> int:
  """A span as a person writes it ('2026-05', or '7' for {SPAN}) -> its number."""
  if is_monthly(pattern):
    return month_number(name)
  if not name.strip().isdigit():
    raise InputError(f'{name!r} is not a span number')
  return int(name)


def span_name(pattern: str, number: int) -> str:
  return month_name(number) if is_monthly(pattern) else str(number)


def list_spans(pattern: str) -> List[Span]:
  """Every file the pattern matches, with its span, oldest first."""
  glob, regex = glob_and_regex(pattern)
  spans = []
  for metadata in FileSystems.match([glob])[0].metadata_list:
    match = regex.fullmatch(metadata.path)
    if not match:
      continue  # The glob is looser than the spec (e.g. '2025-3').
    if 'span' in match.groupdict():
      number = int(match.group('span'))
    else:
      number = month_number(f'{match.group("year")}-{match.group("month")}')
    spans.append(Span(number, span_name(pattern, number), metadata.path))
  spans.sort()
  for earlier, later in zip(spans, spans[1:]):
    if earlier.number == later.number:
      raise InputError(f'span {later.name} has two files: {earlier.path} and {later.path}')
  if not spans:
    raise InputError(f'no input file matches {pattern!r}')
  return spans


def select(pattern: str, last: str = '', window: int = 0) -> List[Span]:
  """The spans a run takes, oldest first: the newest `window` (0: all) up to `last`
  ('' : the newest there is). Stops the run when a span inside the window is missing."""
  if window < 0:
    raise InputError(f'the window must be at least 0 spans, got {window}')
  spans = list_spans(pattern)
  if last:
    last_number = span_number(pattern, last)
    if last_number not in {span.number for span in spans}:
      raise InputError(f'no file for span {last} under {pattern!r}; there are spans '
                       f'{spans[0].name} to {spans[-1].name}')
    spans = [span for span in spans if span.number <= last_number]
  if window:
    spans = [span for span in spans if span.number > spans[-1].number - window]
  present = {span.number for span in spans}
  missing = [span_name(pattern, n) for n in range(spans[0].number, spans[-1].number)
             if n not in present]
  if missing:
    raise InputError(f'span(s) {", ".join(missing)} missing under {pattern!r}: no file '
                     f'between {spans[0].name} and {spans[-1].name}')
  if len(spans) < 2:
    raise InputError(f'{pattern!r}: a run needs at least two spans (the newest is the test '
                     f'split, the ones before it train), found {[s.name for s in spans]}')
  return spans
