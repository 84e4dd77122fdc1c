"""How a run's facts read, written once for every place that shows them: the run
summary printed at the end of a run, and the evaluation report's HTML and Markdown."""

import math
import numbers
from typing import Any, Mapping, Optional, Sequence

NONE = '–'  # A figure that does not exist: no baseline model, no interval.


def number(value: Optional[float], digits: int = 4) -> str:
  """A metric with its decimals; a whole number of 10 or more as a count."""
  if value is None or (isinstance(value, float) and math.isnan(value)):
    return NONE
  if isinstance(value, numbers.Integral) or float(value).is_integer() and abs(value) >= 10:
    return f'{int(value):,}'
  return f'{value:.{digits}f}'


def count(value: Optional[float]) -> str:
  """A count: always an integer ("7", not "7.0000")."""
  return NONE if value is None else f'{int(round(value)):,}'


def interval(bounds: Optional[Mapping[str, float]], signed: bool = False) -> str:
  """A confidence interval {'low', 'high'} as 'low to high'."""
  if not bounds:
    return NONE
  form = '{:+.3f}' if signed else '{:.3f}'
  return f'{form.format(bounds["low"])} to {form.format(bounds["high"])}'


def change(value: Optional[float]) -> str:
  """A difference against the latest blessed model, signed."""
  return NONE if value is None else f'{value:+.4f}'


def direction(value: Optional[float], better_when_lower: bool = False) -> str:
  """'up' for a change for the better, 'down' for the worse, '' for none."""
  if not value:
    return ''
  return 'up' if (value < 0) == better_when_lower else 'down'


def verdict(blessed: bool) -> str:
  return 'Blessed and pushed' if blessed else 'Not blessed: not pushed'


def split_sizes(sizes: Mapping[str, int]) -> str:
  """'train 1,000, eval 50, test 50'."""
  return ', '.join(f'{split} {size:,}' for split, size in sizes.items())


def dropped(rows_dropped: Mapping[str, int]) -> str:
  """The reasons rows were dropped for, with their counts; 'none'."""
  return ', '.join(f'{reason} {n:,}' for reason, n in rows_dropped.items() if n) or 'none'


def span_range(names: Sequence[str]) -> str:
  """['2025-03', ..., '2026-03'] -> '2025-03..2026-03' (spans are contiguous)."""
  return names[0] if len(names) == 1 else f'{names[0]}..{names[-1]}'


def months(spans: Mapping[str, Sequence[str]]) -> str:
  """The spans each split came from: 'train 2025-03..2026-02, eval 2026-02, ...'."""
  return ', '.join(f'{split} {span_range(names)}' for split, names in spans.items())


def training(members: Sequence[Mapping[str, Any]], num_labels: int, vocabulary_size: int,
             parameters: int, threshold: float) -> str:
  """What the Trainer ran and fitted, in one line; `members` are the averaged models'
  {'epochs_run', 'best_epoch', ...}."""
  epochs = ', '.join(str(m['epochs_run']) for m in members)
  best = ', '.join(str(m['best_epoch']) for m in members)
  trained = (f'{epochs} epochs (best {best}, its weights kept)' if len(members) == 1 else
             f'{len(members)} models averaged: {epochs} epochs (best {best}, their weights '
             'kept)')
  return (f'{trained}, {num_labels} labels, {vocabulary_size:,} n-gram ids, '
          f'{parameters:,} parameters; global decision threshold {threshold:g}')
