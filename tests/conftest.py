"""Shared test helpers: small CSV files written the way the real data is."""

import csv
import gzip
import os
from typing import Iterable, Sequence

import pytest

from pipeline.config import SAMPLE_DATA

HEADER = ('titles', 'summaries', 'terms')


def write_csv(path: str, rows: Iterable[Sequence[str]], header: Sequence[str] = HEADER) -> str:
  """Writes `rows` under `header`, gzip-compressed when the name ends in .gz."""
  opener = gzip.open if path.endswith('.gz') else open
  with opener(path, 'wt', encoding='utf-8', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(header)
    writer.writerows(rows)
  return path


def sample_rows(limit: int = None):
  """Data rows of the bundled sample, in file order."""
  with gzip.open(SAMPLE_DATA, 'rt', encoding='utf-8', newline='') as f:
    reader = csv.reader(f)
    next(reader)
    return [row for _, row in zip(range(limit) if limit else iter(int, 1), reader)]


@pytest.fixture
def tmp_csv(tmp_path):
  """Returns a function that writes rows to a CSV file in the test's directory."""
  def make(rows, name='data.csv', header=HEADER):
    return write_csv(os.path.join(tmp_path, name), rows, header)
  return make
