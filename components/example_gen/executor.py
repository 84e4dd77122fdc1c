"""Executor of ArxivExampleGen: CSV files in, cleaned and stratified tf.Examples out.

The Beam pipeline (all in Beam, nothing loaded whole into one process):
read every CSV record -> drop bad rows -> keep the first of each duplicated title ->
drop label combinations seen fewer than `min_combination_count` times -> split each
label combination 90/5/5 -> read the files again and write each kept paper to its
split's TFRecords -> write the data report (JSON).
"""

import csv
import gzip
import io
import json
import os
from typing import Any, Dict, Iterator, List, NamedTuple, Tuple

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
import tensorflow as tf
from tfx import types
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils

from components import features
from components.example_gen import records

EXAMPLES_KEY = 'examples'
DATA_REPORT_KEY = 'data_report'
INPUT_PATTERN_KEY = 'input_pattern'
SEED_KEY = 'seed'
EVAL_FRACTION_KEY = 'eval_fraction'
TEST_FRACTION_KEY = 'test_fraction'
MIN_COMBINATION_COUNT_KEY = 'min_combination_count'

DATA_REPORT_FILE = 'data_report.json'
_RECORD_FILE_PREFIX = 'data_tfrecord'

# Keys of the counts that the pipeline adds up into the report.
_READ = 'read'
_DROPPED = 'dropped'
_SPLIT = 'split'
_LABEL = 'label'
_COMBINATION = 'combination'
# The data report names the first few dropped records of each reason.
_DROPPED_EXAMPLES_PER_REASON = 5


class Executor(base_beam_executor.BaseBeamExecutor):
  """Reads the CSV with Beam and writes the Examples and DataReport artifacts."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    del input_dict  # ExampleGen reads files, not artifacts.
    examples = artifact_utils.get_single_instance(output_dict[EXAMPLES_KEY])
    report_artifact = artifact_utils.get_single_instance(output_dict[DATA_REPORT_KEY])
    pattern = exec_properties[INPUT_PATTERN_KEY]
    paths = matching_files(pattern)
    for path in paths:
      check_header(path)
    test_fraction = float(exec_properties[TEST_FRACTION_KEY])
    eval_fraction = float(exec_properties[EVAL_FRACTION_KEY])
    fractions = (1.0 - eval_fraction - test_fraction, eval_fraction, test_fraction)
    if min(fractions) <= 0:
      raise ValueError(f'split fractions must all be positive, got {fractions}')

    examples.split_names = artifact_utils.encode_split_names(list(features.SPLITS))
    report_path = os.path.join(report_artifact.uri, DATA_REPORT_FILE)
    with self._make_beam_pipeline() as pipeline:
      counts, dropped_examples = (
          pipeline
          | 'ListFiles' >> beam.Create(paths)
          | 'CleanAndSplit' >> CleanAndSplit(
              split_uri=lambda split: artifact_utils.get_split_uri([examples], split),
              seed=int(exec_properties[SEED_KEY]),
              fractions=fractions,
              min_combination_count=int(exec_properties[MIN_COMBINATION_COUNT_KEY])))
      _ = (counts
           | 'SumCounts' >> beam.CombinePerKey(sum)
           | 'CollectCounts' >> beam.combiners.ToDict()
           | 'WriteReport' >> beam.Map(
               lambda totals, first_dropped: write_report(
                   report_path, pattern, paths, totals, first_dropped),
               first_dropped=beam.pvalue.AsSingleton(
                   dropped_examples | 'CollectDroppedExamples' >> beam.combiners.ToDict())))

    report = read_report(report_path)
    check_report(report)
    examples_utils.set_payload_format(examples, example_gen_pb2.FORMAT_TF_EXAMPLE)
    examples_utils.set_file_format(examples, 'tfrecords_gzip')
    examples.set_string_custom_property(
        example_gen_utils.FINGERPRINT_PROPERTY_NAME,
        exec_properties.get(example_gen_utils.FINGERPRINT_PROPERTY_NAME, ''))
    report_artifact.set_int_custom_property('rows_read', report['rows_read'])
    report_artifact.set_int_custom_property('rows_kept', report['rows_kept'])
    for split, size in report['split_sizes'].items():
      report_artifact.set_int_custom_property(f'{split}_rows', size)


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


class _Key(NamedTuple):
  """What the dedupe and the split need of a paper: never its abstract."""
  source: Tuple[str, int]
  title: str
  combination: Tuple[str, ...]


@beam.ptransform_fn
def CleanAndSplit(files, split_uri, seed: int, fractions: Tuple[float, ...],
                  min_combination_count: int):  # pylint: disable=invalid-name
  """Paths in; writes each split's TFRecords. Returns (count key, n) pairs, and the
  first dropped records of each reason as (reason, [(source, detail), ...]).

  Two passes over the files keep memory small on any runner: the first decides each
  paper's split from its title and labels alone (the shuffles carry no abstracts),
  the second reads the files again and streams each kept paper to its split.
  """
  files = files | 'Distribute' >> beam.Reshuffle()
  parsed = (files
            | 'ReadRecords' >> beam.FlatMap(_read_file)
            | 'SeparateDropped' >> beam.Partition(
                lambda item, _: int(isinstance(item, records.Dropped)), 2))
  keys, dropped = parsed[0], parsed[1]

  unique = (keys
            | 'KeyByTitle' >> beam.Map(lambda k: (records.duplicate_key(k.title), k))
            | 'KeepFirstOfTitle' >> beam.CombinePerKey(_KeepFirst())
            | 'DropTitleKey' >> beam.Values())
  assigned = (unique
              | 'KeyByCombination' >> beam.Map(lambda kept: (kept[0].combination, kept))
              | 'GroupByCombination' >> beam.GroupByKey()
              | 'AssignSplits' >> beam.ParDo(
                  _AssignSplits(seed, fractions, min_combination_count)).with_outputs(
                      _DROPPED, main=_SPLIT))

  papers = (files
            | 'ReadRecordsAgain' >> beam.FlatMap(_read_file, keys_only=False)
            | 'ToSplits' >> beam.FlatMap(
                lambda paper, splits: ([(splits[paper.source], paper)]
                                       if paper.source in splits else []),
                splits=beam.pvalue.AsDict(assigned[_SPLIT])))
  by_split = papers | 'PartitionBySplit' >> beam.Partition(
      lambda item, _: item[0], len(features.SPLITS))
  for index, split in enumerate(features.SPLITS):
    _ = (by_split[index]
         | f'ToExample[{split}]' >> beam.Map(lambda item: to_example(item[1]).SerializeToString())
         | f'Write[{split}]' >> beam.io.WriteToTFRecord(
             os.path.join(split_uri(split), _RECORD_FILE_PREFIX), file_name_suffix='.gz'))

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
  return counts, first_dropped


def _read_file(path: str, keys_only: bool = True) -> Iterator[Any]:
  """A file's Papers (or just their _Keys) and Dropped records."""
  with open_text(path) as lines:
    for item in records.read_csv_records(path, lines):
      if keys_only and isinstance(item, records.Paper):
        item = _Key(item.source, item.title, records.combination_key(item.labels))
      yield item


class _KeepFirst(beam.CombineFn):
  """Keeps the earliest record (by file, then record number) and counts the rest."""

  def create_accumulator(self):
    return (None, 0)

  def add_input(self, accumulator, key):
    return self.merge_accumulators([accumulator, (key, 1)])

  def merge_accumulators(self, accumulators):
    best, count = None, 0
    for key, n in accumulators:
      count += n
      if key is not None and (best is None or key.source < best.source):
        best = key
    return (best, count)

  def extract_output(self, accumulator):
    return accumulator


class _AssignSplits(beam.DoFn):
  """Splits one label combination's papers by systematic stratified sampling."""

  def __init__(self, seed: int, fractions: Tuple[float, ...], min_count: int):
    self._seed = seed
    self._fractions = fractions
    self._min_count = min_count

  def process(self, element):
    combination, kept = element
    # `kept` holds (first paper's key, number of papers with its title) per title.
    papers = [key for key, _ in kept]
    duplicates = sum(count - 1 for _, count in kept)
    if duplicates:
      yield beam.pvalue.TaggedOutput(
          _DROPPED, ((_DROPPED, records.DropReason.DUPLICATE_TITLE.value), duplicates))
    if len(papers) < self._min_count:
      yield beam.pvalue.TaggedOutput(
          _DROPPED, ((_DROPPED, records.DropReason.RARE_LABEL_COMBINATION.value),
                     len(papers)))
      return
    yield beam.pvalue.TaggedOutput(_DROPPED, ((_COMBINATION, 'kept'), 1))
    offset = records.unit_hash(self._seed, 'combination', '|'.join(combination))
    order = sorted(range(len(papers)),
                   key=lambda i: records.unit_hash(self._seed, 'paper', papers[i].title))
    for rank, index in enumerate(order):
      # (source, split index): the second pass sends the paper read at `source` there.
      yield papers[index].source, records.split_for_rank(
          rank, len(papers), offset, self._fractions)


def _split_counts(item: Tuple[int, records.Paper]) -> Iterator[Tuple[Any, int]]:
  split = features.SPLITS[item[0]]
  yield (_SPLIT, split), 1
  for label in item[1].labels:
    yield (_LABEL, split, label), 1


def to_example(paper: records.Paper) -> tf.train.Example:
  def strings(*values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(
        value=[v.encode('utf-8') for v in values]))

  return tf.train.Example(features=tf.train.Features(feature={
      features.TITLE_KEY: strings(paper.title),
      features.ABSTRACT_KEY: strings(paper.abstract),
      features.LABELS_KEY: strings(*paper.labels),
  }))


def write_report(path: str, pattern: str, files: List[str], totals: Dict[Any, int],
                 first_dropped: Dict[str, List[Any]]) -> None:
  """Writes the data report: every row read is either kept in a split or dropped."""
  dropped = {reason.value: 0 for reason in records.DropReason}
  label_counts = {split: {} for split in features.SPLITS}
  split_sizes = {split: 0 for split in features.SPLITS}
  for key, count in totals.items():
    if key[0] == _DROPPED and key[1] in dropped:
      dropped[key[1]] += count
    elif key[0] == _SPLIT:
      split_sizes[key[1]] = count
    elif key[0] == _LABEL:
      label_counts[key[1]][key[2]] = count
  report = {
      'input_pattern': pattern,
      'input_files': files,
      'rows_read': totals.get(_READ, 0),
      'rows_dropped': dropped,
      # Where to look: file, 1-based data record and lines, and what is wrong.
      'dropped_examples': {
          reason: [{'file': file, 'record': record + 1, 'detail': detail}
                   for (file, record), detail in examples]
          for reason, examples in sorted(first_dropped.items())},
      'rows_kept': sum(split_sizes.values()),
      'split_sizes': split_sizes,
      'label_combinations_kept': totals.get((_COMBINATION, 'kept'), 0),
      'label_counts': {
          split: dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
          for split, counts in label_counts.items()
      },
  }
  with FileSystems.create(path) as f:
    f.write(json.dumps(report, indent=2).encode('utf-8'))


def read_report(path: str) -> Dict[str, Any]:
  with FileSystems.open(path) as f:
    return json.loads(f.read().decode('utf-8'))


def check_report(report: Dict[str, Any]) -> None:
  """Stops the run when rows went missing or a split is empty."""
  accounted = report['rows_kept'] + sum(report['rows_dropped'].values())
  if accounted != report['rows_read']:
    raise RuntimeError(f'{report["rows_read"]} rows read but {accounted} accounted for: '
                       f'{report["rows_dropped"]}, splits {report["split_sizes"]}')
  empty = [split for split, size in report['split_sizes'].items() if size == 0]
  if empty:
    raise records.InputError(
        f'split(s) {", ".join(empty)} are empty after cleaning: {report["rows_read"]} '
        f'rows read, dropped {report["rows_dropped"]}. The input needs more rows per '
        f'label combination.')
