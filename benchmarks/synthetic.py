"""Synthetic arXiv-like CSV data at any size, with the real data's statistics.

Measured from a real CSV (by default the bundled sample) and reproduced:
- label combinations and their frequencies (so label frequencies and co-occurrence);
- abstract and title lengths in words (the empirical distributions);
- the vocabulary: words drawn from the real unigram distribution, partly from the
  words of the paper's own labels (so labels stay learnable), plus an open-ended
  Zipf tail of new words at the real rate of rare words, so that the vocabulary
  keeps growing with the corpus as real text does (Heaps' law).

    python -m benchmarks.synthetic --rows 1000000 --output /tmp/arxiv_1m.csv.gz
"""

import argparse
import collections
import csv
import dataclasses
import gzip
import io
import re
from typing import Dict, List, Sequence, Tuple

import numpy as np

from components import features
from components.example_gen import records
from pipeline.config import SAMPLE_DATA

_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_TOPIC_SHARE = 0.4  # Share of a document's words drawn from its labels' own words.
_TAIL_EXPONENT = 1.3  # Zipf exponent of the open tail of new words.


@dataclasses.dataclass
class CorpusStatistics:
  label_sets: List[Tuple[str, ...]]
  label_set_probabilities: np.ndarray
  label_set_members: np.ndarray  # [set, position] -> label index (padded with 0)
  label_set_sizes: np.ndarray
  abstract_lengths: np.ndarray  # Words per abstract, one entry per source paper.
  title_lengths: np.ndarray
  words: np.ndarray  # Vocabulary of the source, as an object array of str.
  word_cumulative: np.ndarray  # Cumulative unigram distribution over `words`.
  label_word_cumulative: List[Tuple[np.ndarray, np.ndarray]]  # By label: ids, cumulative
  tail_share: float  # Share of tokens that are words seen once in the source.


def measure(path: str) -> CorpusStatistics:
  """Reads a CSV in the reference's layout and measures what `generate` reproduces."""
  label_sets = collections.Counter()
  abstract_lengths, title_lengths = [], []
  word_counts = collections.Counter()
  label_word_counts: Dict[str, collections.Counter] = collections.defaultdict(
      collections.Counter)
  opener = gzip.open if path.endswith('.gz') else open
  with opener(path, 'rt', encoding='utf-8', newline='') as f:
    for row in csv.DictReader(f):
      try:
        labels = records.parse_terms(row[features.CSV_TERMS_COLUMN])
      except records.TermsError:
        continue
      words = _WORD.findall(row[features.CSV_ABSTRACT_COLUMN].lower())
      if not labels or not words:
        continue
      label_sets[labels] += 1
      abstract_lengths.append(len(words))
      title_lengths.append(max(1, len(row[features.CSV_TITLE_COLUMN].split())))
      counts = collections.Counter(words)
      word_counts.update(counts)
      for label in labels:
        label_word_counts[label].update(counts)
  vocabulary = sorted(word_counts, key=lambda w: (-word_counts[w], w))
  index = {word: i for i, word in enumerate(vocabulary)}
  frequencies = np.array([word_counts[w] for w in vocabulary], np.float64)
  sets = sorted(label_sets, key=lambda s: (-label_sets[s], s))
  set_counts = np.array([label_sets[s] for s in sets], np.float64)
  labels = sorted(label_word_counts)
  label_index = {label: i for i, label in enumerate(labels)}
  members = np.zeros((len(sets), max(len(s) for s in sets)), np.int64)
  for row, label_set in enumerate(sets):
    members[row, :len(label_set)] = [label_index[label] for label in label_set]
  per_label = []
  for label in labels:
    counts = label_word_counts[label]
    ids = np.array([index[w] for w in counts], np.int64)
    per_label.append((ids, _cumulative(np.array(list(counts.values()), np.float64))))
  return CorpusStatistics(
      label_sets=sets,
      label_set_probabilities=set_counts / set_counts.sum(),
      label_set_members=members,
      label_set_sizes=np.array([len(s) for s in sets]),
      abstract_lengths=np.array(abstract_lengths),
      title_lengths=np.array(title_lengths),
      words=np.array(vocabulary, dtype=object),
      word_cumulative=_cumulative(frequencies),
      label_word_cumulative=per_label,
      tail_share=float(frequencies[frequencies == 1].sum() / frequencies.sum()))


def generate_rows(statistics: CorpusStatistics, rows: int, seed: int,
                  chunk: int = 20_000):
  """Yields (title, abstract, terms) rows; vectorized in chunks for speed."""
  rng = np.random.default_rng(seed)
  for start in range(0, rows, chunk):
    size = min(chunk, rows - start)
    label_sets = rng.choice(len(statistics.label_sets), size=size,
                            p=statistics.label_set_probabilities)
    abstract_lengths = rng.choice(statistics.abstract_lengths, size=size)
    title_lengths = rng.choice(statistics.title_lengths, size=size)
    abstracts = _documents(statistics, rng, label_sets, abstract_lengths)
    titles = _documents(statistics, rng, label_sets, title_lengths)
    for offset in range(size):
      labels = statistics.label_sets[label_sets[offset]]
      # A running number keeps titles distinct, as real titles mostly are.
      yield (f'{titles[offset].capitalize()} {start + offset}', abstracts[offset] + '.',
             repr(list(labels)))


def _documents(statistics: CorpusStatistics, rng: np.random.Generator,
               label_sets: np.ndarray, lengths: np.ndarray) -> List[str]:
  total = int(lengths.sum())
  document_of_token = np.repeat(np.arange(len(lengths)), lengths)
  source = rng.random(total)
  tokens = np.empty(total, dtype=object)

  is_tail = source < statistics.tail_share
  tail = rng.zipf(_TAIL_EXPONENT, size=int(is_tail.sum()))
  tokens[is_tail] = [f'x{value}' for value in tail]

  is_topic = (source >= statistics.tail_share) & (
      source < statistics.tail_share + _TOPIC_SHARE)
  topic_positions = np.flatnonzero(is_topic)
  # Each topic word comes from one of its document's labels, chosen at random.
  token_sets = label_sets[document_of_token[topic_positions]]
  choice = (rng.random(len(topic_positions)) * statistics.label_set_sizes[token_sets]).astype(
      np.int64)
  token_labels = statistics.label_set_members[token_sets, choice]
  for label in np.unique(token_labels):
    positions = topic_positions[token_labels == label]
    ids, cumulative = statistics.label_word_cumulative[label]
    drawn = ids[np.searchsorted(cumulative, rng.random(len(positions)), side='right')]
    tokens[positions] = statistics.words[drawn]

  is_common = ~(is_tail | is_topic)
  drawn = np.searchsorted(statistics.word_cumulative, rng.random(int(is_common.sum())),
                          side='right')
  tokens[is_common] = statistics.words[drawn]

  bounds = np.concatenate([[0], np.cumsum(lengths)])
  return [' '.join(tokens[bounds[i]:bounds[i + 1]]) for i in range(len(lengths))]


def _cumulative(counts: np.ndarray) -> np.ndarray:
  cumulative = np.cumsum(counts)
  return cumulative / cumulative[-1]


def write_csv(path: str, rows) -> int:
  """Writes rows under the reference's header (gzip when the name ends in .gz)."""
  count = 0
  with open(path, 'wb') as raw:
    stream = gzip.GzipFile(fileobj=raw, mode='wb', compresslevel=1, mtime=0) if (
        path.endswith('.gz')) else raw
    with io.TextIOWrapper(stream, encoding='utf-8', newline='') as text:
      writer = csv.writer(text, lineterminator='\n')
      writer.writerow(features.CSV_REQUIRED_COLUMNS)
      for row in rows:
        writer.writerow(row)
        count += 1
  return count


def main(argv: Sequence[str] = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--rows', type=int, required=True)
  parser.add_argument('--output', required=True, help='.csv or .csv.gz')
  parser.add_argument('--source', default=SAMPLE_DATA,
                      help='real CSV whose statistics are reproduced (default: the sample)')
  parser.add_argument('--seed', type=int, default=0)
  args = parser.parse_args(argv)
  statistics = measure(args.source)
  written = write_csv(args.output, generate_rows(statistics, args.rows, args.seed))
  print(f'wrote {written:,} rows to {args.output}')


if __name__ == '__main__':
  main()
