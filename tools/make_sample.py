"""Draws the bundled sample from the full arXiv CSV.

The sample is what `make run` and the tests use, so that the product needs nothing
outside the repository. Rows are copied verbatim; every row whose title occurs more
than once in the source is kept, so the sample exercises deduplication.

    python tools/make_sample.py ../shared/data/arxiv_cs_abstracts.csv.gz data/arxiv_sample.csv.gz
"""

import argparse
import collections
import csv
import gzip
import io
import random


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('source')
  parser.add_argument('destination')
  parser.add_argument('--rows', type=int, default=4000)
  parser.add_argument('--seed', type=int, default=20261128)
  args = parser.parse_args()

  with gzip.open(args.source, 'rt', encoding='utf-8', newline='') as f:
    reader = csv.reader(f)
    header = next(reader)
    rows = list(reader)
  title_counts = collections.Counter(row[0] for row in rows)
  duplicated = [i for i, row in enumerate(rows) if title_counts[row[0]] > 1]
  others = [i for i, row in enumerate(rows) if title_counts[row[0]] == 1]
  chosen = set(duplicated)
  chosen.update(random.Random(args.seed).sample(others, args.rows - len(chosen)))

  # mtime=0 keeps the compressed bytes identical from one run to the next.
  with open(args.destination, 'wb') as raw, gzip.GzipFile(
      fileobj=raw, mode='wb', mtime=0) as compressed, io.TextIOWrapper(
          compressed, encoding='utf-8', newline='') as text:
    writer = csv.writer(text, lineterminator='\n')
    writer.writerow(header)
    writer.writerows(rows[i] for i in sorted(chosen))
  print(f'wrote {len(chosen)} rows ({len(duplicated)} with a duplicated title) '
        f'to {args.destination}')


if __name__ == '__main__':
  main()
