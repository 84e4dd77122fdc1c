"""Executor of ArxivExampleGen: CSV files in, cleaned and split tf.Examples out.

The Beam pipeline (all in Beam, nothing loaded whole into one process):
read every CSV record -> drop bad rows -> keep the first of each duplicated title ->
split -> read the files again and write each kept paper to its split's TFRecords ->
write the data report (JSON): rows kept and dropped, and per split the label counts,
abstract lengths and word counts that the drift check compares.

Two ways to split:
- one data set (a path or glob): the reference's recipe. Label combinations seen
  fewer than `min_combination_count` times are dropped and each combination is
  split 90/5/5 at random.
- monthly spans (a pattern with `{YYYY}-{MM}` or `{SPAN}`, see `spans.py`): the
  split is by time, as the model is used. The newest span is `test`; a stratified
  `eval_month_fraction` of the span before it is `eval` (early stopping and the
  decision thresholds, tuned on the most recent papers the model may see); the
  rest of the window is `train`. A title seen in an earlier span keeps its first
  paper, so no paper of the test month reaches Transform or the Trainer. Nothing
  is dropped for being rare: next month's papers are not filtered either.
"""

import collections
import csv
import glob
import gzip
import io
import os
import re
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Tuple, Union

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
import numpy as np
import tensorflow as tf
from tfx import types
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils
from tfx.utils import io_utils

from components import features
from components import preprocessing
from components import run_records
from components.example_gen import records
from components.example_gen import spans as spans_lib

EXAMPLES_KEY = 'examples'
DATA_REPORT_KEY = 'data_report'
INPUT_PATTERN_KEY = 'input_pattern'
SEED_KEY = 'seed'
EVAL_FRACTION_KEY = 'eval_fraction'
TEST_FRACTION_KEY = 'test_fraction'
MIN_COMBINATION_COUNT_KEY = 'min_combination_count'
LAST_SPAN_KEY = 'last_span'
WINDOW_SPANS_KEY = 'window_spans'
EVAL_MONTH_FRACTION_KEY = 'eval_month_fraction'

_RECORD_FILE_PREFIX = 'data_tfrecord'

# Keys of the counts that the pipeline adds up into the report.
_READ = 'read'
_DROPPED = 'dropped'
_SPLIT = 'split'
_LABEL = 'label'
_COMBINATION = 'combination'
_WORDS = 'abstract_words'
# Sides of the join of each file with its split table.
_PATH = 'path'
_TABLE = 'table'
# The data report names the first few dropped records of each reason.
_DROPPED_EXAMPLES_PER_REASON = 5
# Abstract lengths are counted in bins of this many words (the last bin is open),
# for the drift check of the newest span against the training window.
ABSTRACT_WORDS_BIN = 25
ABSTRACT_WORDS_BINS = 16
# Vocabulary drift: each split's count of each of train's most frequent words, of
# all other words, and of words train never has (title + abstract, tokenized as
# Transform does: lower-cased, punctuation removed, split on whitespace).
VOCABULARY_WORDS = 1000
_PUNCTUATION = re.compile(preprocessing.PUNCTUATION)
# Where each file's papers go, by its place in the window (temporal split).
_TRAIN_SPAN, _EVAL_SPAN, _TEST_SPAN = 0, 1, 2


class Executor(base_beam_executor.BaseBeamExecutor):
  """Reads the CSV with Beam and writes the Examples and DataReport artifacts."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    del input_dict  # ExampleGen reads files, not artifacts.
    examples = artifact_utils.get_single_instance(output_dict[EXAMPLES_KEY])
    report_artifact = artifact_utils.get_single_instance(output_dict[DATA_REPORT_KEY])
    pattern = exec_properties[INPUT_PATTERN_KEY]
    window = resolve_input(pattern, exec_properties)
    paths = [path for path, _ in window.files]
    for path in paths:
      check_header(path)
    group_fractions, min_combination_count = split_plan(window, exec_properties)

    examples.split_names = artifact_utils.encode_split_names(list(features.SPLITS))
    with self._make_beam_pipeline() as pipeline:
      counts, dropped_examples, word_counts = (
          pipeline
          | 'ListFiles' >> beam.Create(list(enumerate(paths)))
          | 'CleanAndSplit' >> CleanAndSplit(
              split_uri=lambda split: artifact_utils.get_split_uri([examples], split),
              seed=int(exec_properties[SEED_KEY]),
              file_groups=tuple(group for _, group in window.files),
              group_fractions=group_fractions,
              min_combination_count=min_combination_count,
              span_of_file=window.span_numbers()))
      _ = (counts
           | 'SumCounts' >> beam.CombinePerKey(sum)
           | 'CollectCounts' >> beam.combiners.ToDict()
           | 'WriteReport' >> beam.Map(
               lambda totals, first_dropped, words: write_report(
                   report_artifact.uri, pattern, window, totals, first_dropped,
                   {features.SPLITS[index]: counter for index, counter in words.items()}),
               first_dropped=beam.pvalue.AsSingleton(
                   dropped_examples | 'CollectDroppedExamples' >> beam.combiners.ToDict()),
               words=beam.pvalue.AsDict(word_counts)))

    report = run_records.DataReport.read(report_artifact.uri)
    check_report(report)
    examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
    examples_utils.set_file_format(examples, 'tfrecords_gzip')
    if window.span_names:
      # MLMD then says which months a model was trained, tuned and tested on.
      examples.span = window.numbers[-1]  # The test month's.
      for split, names in report.spans.items():
        examples.set_string_custom_property(f'{split}_spans', ','.join(names))
    # The driver fingerprints the files before caching is decided; where it does not
    # run (Vertex AI and Kubeflow run no custom drivers), the record still says which
    # files the examples came from.
    examples.set_string_custom_property(
        example_gen_utils.FINGERPRINT_PROPERTY_NAME,
        exec_properties.get(example_gen_utils.FINGERPRINT_PROPERTY_NAME) or
        input_fingerprint(window))
    report_artifact.set_int_custom_property('rows_read', report.rows_read)
    report_artifact.set_int_custom_property('rows_kept', report.rows_kept)
    for split, size in report.split_sizes.items():
      report_artifact.set_int_custom_property(f'{split}_rows', size)


class InputWindow(NamedTuple):
  """What a run reads: (path, group) per file, oldest first; for spans, their names."""
  files: Tuple[Tuple[str, int], ...]
  span_names: Tuple[str, ...] = ()  # Aligned with `files`; empty for one data set.
  numbers: Tuple[int, ...] = ()  # The spans' numbers, aligned with `files`.

  def span_numbers(self) -> Dict[str, int]:
    """Path -> span number (empty for one data set)."""
    return {path: number for (path, _), number in zip(self.files, self.numbers)}


def resolve_input(pattern: str, exec_properties: Dict[str, Any]) -> InputWindow:
  """The files of a run: every match of a plain pattern, or the span window."""
  if not spans_lib.is_span_pattern(pattern):
    return InputWindow(tuple((path, _TRAIN_SPAN) for path in matching_files(pattern)))
  selected = spans_lib.select(pattern, exec_properties.get(LAST_SPAN_KEY) or '',
                              int(exec_properties.get(WINDOW_SPANS_KEY) or 0))
  groups = [_TRAIN_SPAN] * (len(selected) - 2) + [_EVAL_SPAN, _TEST_SPAN]
  return InputWindow(tuple((span.path, group) for span, group in zip(selected, groups)),
                     tuple(span.name for span in selected),
                     tuple(span.number for span in selected))


def input_fingerprint(window: InputWindow) -> str:
  """Count, sizes and modification times of the window's files, as TFX's file-based
  ExampleGen fingerprints its input."""
  return '\n'.join(io_utils.generate_fingerprint(f'file {index}', path)
                   for index, (path, _) in enumerate(window.files))


def split_plan(window: InputWindow, exec_properties: Dict[str, Any]
               ) -> Tuple[Tuple[Tuple[float, ...], ...], int]:
  """Per file group, the (train, eval, test) fractions its papers are dealt into; and
  the fewest papers a label combination needs to be kept."""
  if window.span_names:
    share = float(exec_properties[EVAL_MONTH_FRACTION_KEY])
    if not 0 < share < 1:
      raise ValueError(f'eval_month_fraction must be in (0, 1), got {share}')
    return ((1.0, 0.0, 0.0), (1.0 - share, share, 0.0), (0.0, 0.0, 1.0)), 1
  test_fraction = float(exec_properties[TEST_FRACTION_KEY])
  eval_fraction = float(exec_properties[EVAL_FRACTION_KEY])
  fractions = (1.0 - eval_fraction - test_fraction, eval_fraction, test_fraction)
  if min(fractions) <= 0:
    raise ValueError(f'split fractions must all be positive, got {fractions}')
  return (fractions,), int(exec_properties[MIN_COMBINATION_COUNT_KEY])


def matching_files(pattern: str) -> List[str]:
  """The files a path or glob names, sorted; a clear error when there are none."""
  metadata = FileSystems.match([pattern])[0].metadata_list
  paths = sorted(m.path for m in metadata)
  if not paths:
    raise records.InputError(f'no input file matches {pattern!r}')
  return paths


def open_text(path: str) -> io.TextIOWrapper:
  """Opens a plain or gzip-compressed CSV on any Beam file system as decoded text."""
  stream = FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
  if CompressionTypes.detect_compression_type(path) == CompressionTypes.GZIP:
    stream = gzip.GzipFile(fileobj=stream, mode='rb')
  return records.text_lines(stream)


def check_header(path: str) -> None:
  """Fails before any Beam work when a file lacks a required column."""
  with open_text(path) as lines:
    header_line = lines.readline()
  if not header_line.strip():
    raise records.InputError(f'{path}: the file is empty; expected a header with '
                             f'columns {", ".join(features.CSV_REQUIRED_COLUMNS)}')
  records.column_indices(path, next(csv.reader([header_line])))


# A paper's place in the input as one integer: file index in the high bits, record
# number in the low ones, so that ordering by it is ordering by (file, record).
_RECORD_BITS = 40


def _source_id(file_index: int, record: int) -> int:
  return (file_index << _RECORD_BITS) | record


def _file_and_record(source_id: int) -> Tuple[int, int]:
  return source_id >> _RECORD_BITS, source_id & ((1 << _RECORD_BITS) - 1)


@beam.ptransform_fn
def CleanAndSplit(files, split_uri, seed: int, file_groups: Tuple[int, ...],
                  group_fractions: Tuple[Tuple[float, ...], ...],
                  min_combination_count: int,
                  span_of_file: Dict[str, int]):  # pylint: disable=invalid-name
  """(file index, path) pairs in; writes each split's TFRecords. Returns (count key,
  n) pairs, and the first dropped records of each reason as
  (reason, [(source, detail), ...]).

  Each file belongs to a group (`file_groups`, by file index) whose papers are dealt
  into (train, eval, test) by `group_fractions[group]`, stratified on the label
  combination within the group. `span_of_file` gives the span number written into
  each paper of a file (none for files not in it).

  Also returns each split's word counts, as {split index: Counter}.

  Two passes over the files keep memory small: the first decides each paper's split
  from fingerprints of its title and label set (the shuffles carry a few integers a
  paper, never text); the second reads the files again and streams each kept paper
  to its split, looking it up in one byte per record of each file.
  """
  files = files | 'Distribute' >> beam.Reshuffle()
  parsed = (files
            | 'ReadRecords' >> beam.FlatMap(_read_file)
            | 'SeparateDropped' >> beam.Partition(
                lambda item, _: int(isinstance(item, records.Dropped)), 2))
  keys, dropped = parsed[0], parsed[1]

  assigned = (keys
              | 'KeepFirstOfTitle' >> beam.CombinePerKey(_KeepFirst())
              | 'KeyByCombination' >> beam.Map(_by_combination, file_groups)
              | 'GroupByCombination' >> beam.GroupByKey()
              | 'AssignSplits' >> beam.ParDo(
                  _AssignSplits(seed, group_fractions, min_combination_count)).with_output_types(
                      Tuple[int, Tuple[int, int]]).with_outputs(_DROPPED, main=_SPLIT))
  split_tables = assigned[_SPLIT] | 'SplitTablePerFile' >> beam.CombinePerKey(_SplitTable())

  # Reading a file again once its table exists keeps the papers streaming to the
  # writers; reading it beside the first pass would hold every paper until then.
  papers = ({_PATH: files, _TABLE: split_tables}
            | 'JoinFileAndSplitTable' >> beam.CoGroupByKey()
            | 'ReadKeptPapers' >> beam.FlatMap(_read_kept_papers))
  by_split = papers | 'PartitionBySplit' >> beam.Partition(
      lambda item, _: item[0], len(features.SPLITS))
  for index, split in enumerate(features.SPLITS):
    _ = (by_split[index]
         | f'ToExample[{split}]' >> beam.Map(
             lambda item: to_example(item[1], span_of_file.get(item[1].source[0]))
             .SerializeToString())
         # Uncompressed, unlike TFX's own ExampleGen: gzip is a large share of
         # ExampleGen's time, and every later reader would pay to inflate it again
         # (docs/pipeline.md has the figures).
         | f'Write[{split}]' >> beam.io.WriteToTFRecord(
             os.path.join(split_uri(split), _RECORD_FILE_PREFIX)))

  first_dropped = (
      dropped
      | 'KeyDroppedByReason' >> beam.Map(lambda d: (d.reason.value, (d.source, d.detail)))
      | 'FirstDroppedPerReason' >> beam.combiners.Top.SmallestPerKey(
          _DROPPED_EXAMPLES_PER_REASON))
  counts = (
      (keys | 'CountRead' >> beam.Map(lambda _: (_READ, 1)),
       dropped | 'CountReadDropped' >> beam.Map(lambda _: (_READ, 1)),
       dropped | 'CountDropped' >> beam.Map(lambda d: ((_DROPPED, d.reason.value), 1)),
       assigned[_DROPPED],
       papers | 'CountSplitsAndLabels' >> beam.FlatMap(_split_counts))
      | 'AllCounts' >> beam.Flatten())
  # `papers` are already (split index, paper) pairs.
  word_counts = papers | 'CountWordsPerSplit' >> beam.CombinePerKey(_WordCounts())
  return counts, first_dropped, word_counts


def words_of(paper: records.Paper) -> List[str]:
  """The words Transform's tokenizer makes of a paper's title and abstract."""
  return _PUNCTUATION.sub('', f'{paper.title} {paper.abstract}'.lower()).split()


class _WordCounts(beam.CombineFn):
  """Papers -> how often each word occurs in them (a Counter: one per split, of
  ~10^5 words, where a (word, 1) pair per occurrence would be ~10^7 elements)."""

  def create_accumulator(self):
    return collections.Counter()

  def add_input(self, counter, paper):
    counter.update(words_of(paper))
    return counter

  def merge_accumulators(self, counters):
    counters = iter(counters)
    merged = next(counters)
    for counter in counters:
      merged.update(counter)
    return merged

  def extract_output(self, counter):
    return counter


def vocabulary_counts(word_counts: Dict[str, collections.Counter]) -> run_records.Vocabulary:
  """The report's vocabulary section: train's VOCABULARY_WORDS most frequent words,
  and per split the counts of each, of all other words and of words not in train."""
  train = word_counts.get(features.TRAIN_SPLIT, collections.Counter())
  top = [word for word, _ in sorted(train.items(), key=lambda kv: (-kv[1], kv[0]))
         [:VOCABULARY_WORDS]]
  per_split = {}
  for split in features.SPLITS:
    counts = word_counts.get(split, collections.Counter())
    listed = [counts.get(word, 0) for word in top]
    total = sum(counts.values())
    per_split[split] = run_records.SplitWords(
        words=total, top_train_words=listed, other_words=total - sum(listed),
        words_not_in_train=sum(n for word, n in counts.items() if word not in train))
  return run_records.Vocabulary(top_train_words=top, splits=per_split)


def _read_file(indexed_path: Tuple[int, str]) -> Iterator[Any]:
  """First pass: a file's Dropped records, and per paper (title fingerprint,
  (source id, label-set fingerprint)), what the dedupe and the split need."""
  file_index, path = indexed_path
  for item in _file_records(path):
    if isinstance(item, records.Dropped):
      yield item
    else:
      yield (records.fingerprint(records.duplicate_key(item.title)),
             (_source_id(file_index, item.source[1]),
              records.fingerprint(*records.combination_key(item.labels))))


def _read_kept_papers(joined: Tuple[int, Dict[str, List[Any]]]
                      ) -> Iterator[Tuple[int, records.Paper]]:
  """Second pass over one file: (split index, paper) for each paper its split
  table keeps. The dropped records were counted by the first pass."""
  _, joined = joined
  if not joined[_TABLE]:  # No paper of this file was kept.
    return
  (path,), (table,) = joined[_PATH], joined[_TABLE]
  for item in _file_records(path):
    record = item.source[1]
    if isinstance(item, records.Paper) and record < len(table) and table[record]:
      yield table[record] - 1, item


def _file_records(path: str) -> Iterator[Union[records.Paper, records.Dropped]]:
  """Every CSV record of a file, as either pass reads it."""
  with open_text(path) as lines:
    yield from records.read_csv_records(path, lines)


class _KeepFirst(beam.CombineFn):
  """Keeps the earliest record (lowest source id) of a title and counts them all."""

  def create_accumulator(self):
    return (None, 0)

  def add_input(self, accumulator, key):
    return self.merge_accumulators([accumulator, (key, 1)])

  def merge_accumulators(self, accumulators):
    best, count = None, 0
    for key, n in accumulators:
      count += n
      if key is not None and (best is None or key[0] < best[0]):
        best = key
    return (best, count)

  def extract_output(self, accumulator):
    return accumulator


def _by_combination(kept: Tuple[int, Tuple[Tuple[int, int], int]], file_groups: Tuple[int, ...]
                    ) -> Tuple[Tuple[int, int], Tuple[int, int, int]]:
  """(title, ((source id, label set), papers with the title)) ->
  ((file group, label set), (source id, title, papers with the title))."""
  title, ((source_id, combination), count) = kept
  return (file_groups[_file_and_record(source_id)[0]], combination), (source_id, title, count)


class _AssignSplits(beam.DoFn):
  """Splits one label combination's papers of a file group by systematic stratified
  sampling."""

  def __init__(self, seed: int, group_fractions: Tuple[Tuple[float, ...], ...],
               min_count: int):
    self._seed = seed
    self._group_fractions = group_fractions
    self._min_count = min_count

  def process(self, element):
    (group, combination), kept = element
    # `kept` holds (source id, title fingerprint, papers with that title) per title.
    kept = list(kept)
    duplicates = sum(count - 1 for _, _, count in kept)
    if duplicates:
      yield beam.pvalue.TaggedOutput(
          _DROPPED, ((_DROPPED, records.DropReason.DUPLICATE_TITLE.value), duplicates))
    if len(kept) < self._min_count:
      yield beam.pvalue.TaggedOutput(
          _DROPPED, ((_DROPPED, records.DropReason.RARE_LABEL_COMBINATION.value),
                     len(kept)))
      return
    yield beam.pvalue.TaggedOutput(_DROPPED, ((_COMBINATION, 'kept'), 1))
    offset = records.unit_hash(self._seed, 'combination', str(combination))
    order = sorted(kept, key=lambda paper: records.unit_hash(self._seed, 'paper', str(paper[1])))
    for rank, (source_id, _, _) in enumerate(order):
      file_index, record = _file_and_record(source_id)
      yield file_index, (record, records.split_for_rank(
          rank, len(kept), offset, self._group_fractions[group]))


class _SplitTable(beam.CombineFn):
  """One file's (record, split) pairs -> a byte per record: 0 dropped, else split + 1.

  The second pass looks papers up in these tables: a million papers take a
  megabyte, where a dictionary of their sources would take a hundred bytes a paper.
  """

  def create_accumulator(self):
    return bytearray()

  def add_input(self, table, record_and_split):
    record, split = record_and_split
    if record >= len(table):
      table.extend(bytes(record + 1 - len(table)))
    table[record] = split + 1
    return table

  def merge_accumulators(self, tables):
    tables = list(tables)
    merged = np.zeros(max(len(table) for table in tables), np.uint8)
    for table in tables:
      # Each record is assigned once, so the tables' non-zero bytes never overlap.
      merged[:len(table)] |= np.frombuffer(table, np.uint8)
    return bytearray(merged.tobytes())

  def extract_output(self, table):
    return bytes(table)


def _split_counts(item: Tuple[int, records.Paper]) -> Iterator[Tuple[Any, int]]:
  split = features.SPLITS[item[0]]
  yield (_SPLIT, split), 1
  for label in item[1].labels:
    yield (_LABEL, split, label), 1
  yield (_WORDS, split, abstract_words_bin(item[1].abstract)), 1


def abstract_words_bin(abstract: str) -> int:
  """The length bin of an abstract: words // ABSTRACT_WORDS_BIN, the last bin open."""
  return min(len(abstract.split()) // ABSTRACT_WORDS_BIN, ABSTRACT_WORDS_BINS - 1)


def to_example(paper: records.Paper, span: Optional[int] = None) -> tf.train.Example:
  def strings(*values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(
        value=[v.encode('utf-8') for v in values]))

  feature = {
      features.TITLE_KEY: strings(paper.title),
      features.ABSTRACT_KEY: strings(paper.abstract),
      features.LABELS_KEY: strings(*paper.labels),
  }
  if span is not None:
    feature[features.SPAN_KEY] = tf.train.Feature(int64_list=tf.train.Int64List(value=[span]))
  return tf.train.Example(features=tf.train.Features(feature=feature))


class ExamplePaper(NamedTuple):
  """A paper as ArxivExampleGen wrote it into a split (its CSV source is not kept)."""
  title: str
  abstract: str
  labels: Tuple[str, ...]
  span: Optional[int] = None  # With monthly input, its month's span number.


def from_example(example: tf.train.Example) -> ExamplePaper:
  """The paper `to_example` wrote into `example`."""
  feature = example.features.feature

  def strings(key):
    return tuple(value.decode('utf-8') for value in feature[key].bytes_list.value)

  (title,), (abstract,) = strings(features.TITLE_KEY), strings(features.ABSTRACT_KEY)
  span = (feature[features.SPAN_KEY].int64_list.value[0]
          if features.SPAN_KEY in feature else None)
  return ExamplePaper(title, abstract, strings(features.LABELS_KEY), span)


def read_split(examples_uri: str, split: str) -> Iterator[tf.train.Example]:
  """Every example ArxivExampleGen wrote to `split` of the Examples at `examples_uri`."""
  files = sorted(glob.glob(os.path.join(examples_uri, f'Split-{split}',
                                        _RECORD_FILE_PREFIX + '*')))
  for record in tf.data.TFRecordDataset(files):
    yield tf.train.Example.FromString(record.numpy())


def read_papers(examples_uri: str, split: str) -> List[ExamplePaper]:
  """Every paper ArxivExampleGen wrote to `split`, in file order."""
  return [from_example(example) for example in read_split(examples_uri, split)]


def write_report(directory: str, pattern: str, window: InputWindow, totals: Dict[Any, int],
                 first_dropped: Dict[str, List[Any]],
                 word_counts: Dict[str, collections.Counter]) -> None:
  """Writes the data report into `directory`: every row read is either kept in a
  split or dropped."""
  dropped = {reason.value: 0 for reason in records.DropReason}
  label_counts = {split: {} for split in features.SPLITS}
  split_sizes = {split: 0 for split in features.SPLITS}
  words = {split: [0] * ABSTRACT_WORDS_BINS for split in features.SPLITS}
  for key, count in totals.items():
    if key[0] == _DROPPED and key[1] in dropped:
      dropped[key[1]] += count
    elif key[0] == _SPLIT:
      split_sizes[key[1]] = count
    elif key[0] == _LABEL:
      label_counts[key[1]][key[2]] = count
    elif key[0] == _WORDS:
      words[key[1]][key[2]] = count
  run_records.DataReport(
      input_pattern=pattern,
      input_files=[path for path, _ in window.files],
      spans={split: sorted({name for name, (_, group) in zip(window.span_names, window.files)
                            if split_can_hold(split, group)})
             for split in features.SPLITS} if window.span_names else {},
      rows_read=totals.get(_READ, 0),
      rows_dropped=dropped,
      dropped_examples={
          reason: [run_records.DroppedRecord(file=file, record=record + 1, detail=detail)
                   for (file, record), detail in examples]
          for reason, examples in sorted(first_dropped.items())},
      rows_kept=sum(split_sizes.values()),
      split_sizes=split_sizes,
      label_combinations_kept=totals.get((_COMBINATION, 'kept'), 0),
      abstract_words_bin=ABSTRACT_WORDS_BIN,
      abstract_words=words,
      vocabulary=vocabulary_counts(word_counts),
      label_counts={
          split: dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
          for split, counts in label_counts.items()
      }).write(directory)


def split_can_hold(split: str, group: int) -> bool:
  """Whether papers of a file group can reach `split` in the temporal split."""
  return {features.TRAIN_SPLIT: group in (_TRAIN_SPAN, _EVAL_SPAN),
          features.EVAL_SPLIT: group == _EVAL_SPAN,
          features.TEST_SPLIT: group == _TEST_SPAN}[split]


def check_report(report: run_records.DataReport) -> None:
  """Stops the run when rows went missing or a split is empty."""
  accounted = report.rows_kept + sum(report.rows_dropped.values())
  if accounted != report.rows_read:
    raise RuntimeError(f'{report.rows_read} rows read but {accounted} accounted for: '
                       f'{report.rows_dropped}, splits {report.split_sizes}')
  empty = [split for split, size in report.split_sizes.items() if size == 0]
  if empty:
    raise records.InputError(
        f'split(s) {", ".join(empty)} are empty after cleaning: {report.rows_read} '
        f'rows read, dropped {report.rows_dropped}. The input needs more rows per '
        f'label combination.')
