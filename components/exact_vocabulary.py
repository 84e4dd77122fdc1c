"""An exact top-k vocabulary whose counting runs in C++: the n-gram vocabulary.

`tft.vocabulary` counts exactly but hands every distinct token of the data to Beam as
a Python (token, count) pair and sorts them all: on a full month (~90,000 papers,
millions of distinct bigrams) that was ~240 s of Transform's ~400 s. Its streaming
alternative, `tft.experimental.approximate_vocabulary`, keeps at most a few top_k
counters (a Misra-Gries sketch), so its counts near the cap, and the vocabulary,
depend on the order and bundling Beam reads the papers in: not repeatable.

This analyzer keeps what makes each fast and drops what makes it approximate: each
batch's tokens are counted in the graph (`tf.unique_with_counts`), and the counts go
into tfx_bsl's C++ Misra-Gries sketch with room for every distinct token
(`MAX_DISTINCT_TOKENS`), so it never evicts and every count is exact. The most
frequent `top_k` are written most frequent first, ties broken by the token in reverse
byte order: the same file `tft.vocabulary` writes, whatever order the papers come in.
If the data ever holds more distinct tokens than that, the counts become approximate;
the analyzer checks this (the sketch's counts sum to the tokens added only when it
never evicted) and logs a warning rather than failing the run.
"""

import logging
import os
import uuid
from typing import Iterable, List, Optional

import apache_beam as beam
import numpy as np
import pyarrow as pa
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tfx_bsl import sketches

# Room in the sketch: more distinct tokens than this and counts become approximate.
# A full month of arXiv CS papers has a few million distinct unigrams + bigrams; the
# sketch allocates per token seen, not per bucket, so the headroom costs nothing.
MAX_DISTINCT_TOKENS = 1 << 26

# tf.Transform needs a non-empty placeholder for an asset output while it traces the
# graph before analysis (an empty one fails the lookup table's initialization).
_PLACEHOLDER_ASSET = b'__not_yet_analyzed__'


def vocabulary(tokens: tf.SparseTensor, top_k: int, vocab_filename: str) -> tf.Tensor:
  """The `top_k` most frequent of `tokens` over the analyzed data: the vocabulary
  file's path, for `tft.apply_vocabulary`. Counted exactly; see the module doc."""
  if top_k < 1:
    raise ValueError(f'top_k must be at least 1, got {top_k}')
  distinct, _, counts = tf.unique_with_counts(tokens.values)
  (path,) = tft.experimental.ptransform_analyzer(
      inputs=[distinct, tf.cast(counts, tf.int64)],
      ptransform=_TopK(top_k, vocab_filename),
      output_dtypes=[tf.string],
      output_shapes=[[]],
      output_asset_default_values=[_PLACEHOLDER_ASSET],
      name=vocab_filename)
  return path


class TokenCounts:
  """A Beam accumulator: the sketch and how many token occurrences went into it.

  Pickled (between Beam's worker processes) through the sketch's own serialization.
  """

  def __init__(self, sketch: Optional[sketches.MisraGriesSketch] = None, added: int = 0):
    self.sketch = sketch or sketches.MisraGriesSketch(
        MAX_DISTINCT_TOKENS,
        order_on_tie=sketches.MisraGriesSketch.OrderOnTie.ReverseLexicographical)
    self.added = added

  def add(self, tokens: np.ndarray, counts: np.ndarray) -> None:
    self.sketch.AddValues(pa.array(tokens, pa.binary()), pa.array(counts, pa.float32()))
    self.added += int(counts.sum())

  def merge(self, other: 'TokenCounts') -> None:
    self.sketch.Merge(other.sketch)
    self.added += other.added

  def most_frequent(self) -> List[bytes]:
    """Every token counted, most frequent first, ties in reverse byte order."""
    estimate = self.sketch.Estimate().flatten()
    tokens, counts = estimate[0].to_pylist(), estimate[1].to_numpy()
    if round(float(counts.sum())) != self.added:
      logging.warning(
          'The exact vocabulary saw more than %d distinct tokens: its counts, and the '
          'entries near its cap, are approximate (%d of %d token occurrences kept).',
          MAX_DISTINCT_TOKENS, round(float(counts.sum())), self.added)
    return tokens

  def __reduce__(self):
    return _restore, (self.sketch.Serialize(), self.added)


def _restore(serialized: bytes, added: int) -> TokenCounts:
  return TokenCounts(sketches.MisraGriesSketch.Deserialize(serialized), added)


class _CountTokens(beam.CombineFn):
  """Sums the per-batch (tokens, counts) pairs the graph computed."""

  def create_accumulator(self) -> TokenCounts:
    return TokenCounts()

  def add_input(self, accumulator: TokenCounts, batch) -> TokenCounts:
    tokens, counts = batch
    accumulator.add(tokens, counts)
    return accumulator

  def merge_accumulators(self, accumulators: Iterable[TokenCounts]) -> TokenCounts:
    accumulators = iter(accumulators)
    merged = next(accumulators)
    for accumulator in accumulators:
      merged.merge(accumulator)
    return merged

  def extract_output(self, accumulator: TokenCounts) -> TokenCounts:
    return accumulator


def writable(token: bytes) -> bool:
  """Whether a token can be a line of a vocabulary file (tft.vocabulary drops the rest)."""
  return bool(token) and b'\n' not in token and b'\r' not in token


class _TopK(tft_beam.experimental.PTransformAnalyzer):
  """Counts the tokens and writes the `top_k` most frequent to a vocabulary file."""

  def __init__(self, top_k: int, vocab_filename: str):
    super().__init__()
    self._top_k = top_k
    self._vocab_filename = vocab_filename

  def expand(self, batches: beam.PCollection) -> beam.PCollection:
    return (batches
            | 'Count' >> beam.CombineGlobally(_CountTokens())
            | 'Write' >> beam.Map(self._write, self.base_temp_dir))

  def _write(self, counted: TokenCounts, base_temp_dir: str) -> bytes:
    top = [token for token in counted.most_frequent() if writable(token)][:self._top_k]
    directory = os.path.join(base_temp_dir, uuid.uuid4().hex)
    tf.io.gfile.makedirs(directory)
    path = os.path.join(directory, self._vocab_filename)
    with tf.io.gfile.GFile(path, 'wb') as f:
      f.write(b''.join(token + b'\n' for token in top))
    return path.encode()
