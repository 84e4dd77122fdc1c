"""Draws the bundled samples from the full arXiv data.

The samples are what `make run` and the tests use, so that the product needs
nothing outside the repository. Rows are copied verbatim; in the single-file sample
every row whose title occurs more than once in the source is kept, so the sample
exercises deduplication. The monthly sample takes `--rows` papers of each monthly
file, keeping its columns (`arxiv_id` too) and its order.

    python tools/make_sample.py ../shared/data/arxiv_cs_abstracts.csv.gz data/arxiv_sample.csv.gz
    python tools/make_sample.py --monthly --rows 250 ../shared/data/monthly data/monthly
"""

import argparse
import collections
import csv
import glob
import gzip
import io
import os
import random


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('source')
  parser.add_argument('destination')
  parser.add_argument('--rows', type=int, default=4000)
  parser.add_argument('--seed', type=int, default=20261128)
  parser.add_argument('--monthly', action='store_true',
                      help='source and destination are folders of arxiv_cs_YYYY-MM.csv.gz files')
  args = parser.parse_args()
  if args.monthly:
    os.makedirs(args.destination, exist_ok=True)
    for source in sorted(glob.glob(os.path.join(args.source, 'arxiv_cs_*.csv.gz'))):
      month = os.path.basename(source)[len('arxiv_cs_'):-len('.csv.gz')]
      header, rows = read_rows(source)
      chosen = sorted(random.Random(f'{args.seed}-{month}').sample(range(len(rows)), args.rows))
      destination = os.path.join(args.destination, f'arxiv_sample_{month}.csv.gz')
      write_rows(destination, header, [rows[i] for i in chosen])
      print(f'wrote {len(chosen)} rows to {destination}')
    return

  header, rows = read_rows(args.source)

  title_counts = collections.Counter(row[0] for row in rows)
  duplicated = [i for i, row in enumerate(rows) if title_counts[row[0]] > 1]
  others = [i for i, row in enumerate(rows) if title_counts[row[0]] == 1]
  chosen = set(duplicated)
  chosen.update(random.Random(args.seed).sample(others, args.rows - len(chosen)))

  write_rows(args.destination, header, [rows[i] for i in sorted(chosen)])
  print(f'wrote {len(chosen)} rows ({len(duplicated)} with a duplicated title) '
        f'to {args.destination}')


def read_rows(path):
  with gzip.open(path, 'rt', encoding='utf-8', newline='') as f:
    reader = csv.reader(f)
    return next(reader), list(reader)


def write_rows(path, header, rows):
  # mtime=0 keeps the compressed bytes identical from one run to the next.
  with open(path, 'wb') as raw, gzip.GzipFile(
      fileobj=raw, mode='wb', mtime=0) as compressed, io.TextIOWrapper(
          compressed, encoding='utf-8', newline='') as text:
    writer = csv.writer(text, lineterminator='\n')
    writer.writerow(header)
    writer.writerows(rows)


if __name__ == '__main__':
  main()
