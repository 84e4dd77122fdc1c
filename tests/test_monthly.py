"""Monthly data as it arrives: spans in ExampleGen, the split by time, the data gate,
and reruns as months land.

The ExampleGen tests run its executor on crafted month files; the pipeline tests run
`pipeline/run_local.py` as a user would on months of the bundled monthly sample.
"""

import collections
import csv
import glob
import gzip
import os
import shutil
import subprocess

from ml_metadata.metadata_store import metadata_store
import pytest
import tensorflow as tf

from tensorflow_metadata.proto.v0 import statistics_pb2

from components import data_gate
from components import errors
from components import features
from components import preprocessing
from components import run_records
from components.example_gen import executor
from components.example_gen import records
from components.example_gen import spans
from pipeline import run_local
from pipeline import run_summary
from pipeline.config import MONTHLY_SAMPLE
from tests.conftest import (COMPONENTS, SMALL, component_states, execute_example_gen,
                            run_local_command, summary_of, write_csv)

MONTHS = ('2025-01', '2025-02', '2025-03', '2025-04')


def month_rows(month):
  rows = [(f'{month} vision {i}', f'Images of {month}, number {i}.', "['cs.CV']")
          for i in range(40)]
  rows += [(f'{month} language {i}', f'Text of {month}, number {i}.', "['cs.CL', 'cs.LG']")
           for i in range(40)]
  return rows


@pytest.fixture(scope='module')
def monthly_run(tmp_path_factory):
  """ExampleGen on four crafted months: a duplicate across months, a bad row, a
  combination seen once in the test month."""
  directory = tmp_path_factory.mktemp('monthly')
  for month in MONTHS:
    rows = month_rows(month)
    if month == MONTHS[1]:
      rows.append(('Bad terms', 'Abstract.', 'cs.CV'))
    if month == MONTHS[-1]:
      rows.append((f'{MONTHS[0].upper()} VISION 3', 'The same title again.', "['cs.CV']"))
      rows.append(('Robots once', 'A combination seen once.', "['cs.RO']"))
    write_csv(str(directory / f'papers_{month}.csv'), rows)
  report, examples, splits = execute_example_gen(
      str(directory / 'run'), str(directory / 'papers_{YYYY}-{MM}.csv'),
      eval_month_fraction=0.5)
  titles = {split: [paper.title for paper in found] for split, found in splits.items()}
  return report, examples, splits, titles


def test_the_newest_month_is_test_and_no_paper_of_it_reaches_train(monthly_run):
  report, _, _, titles = monthly_run
  assert report['spans'] == {'train': list(MONTHS[:3]), 'eval': [MONTHS[2]],
                             'test': [MONTHS[3]]}
  newest = MONTHS[-1]
  assert all(title.startswith(newest) for title in titles['test'] if 'once' not in title)
  assert 'Robots once' in titles['test']  # Rare combinations are not dropped by time.
  assert not any(title.startswith(newest) for title in titles['train'] + titles['eval'])
  # The test month's copy of an older title is dropped; the older paper stays in train.
  assert f'{MONTHS[0]} vision 3' in titles['train']
  assert report['rows_dropped']['duplicate_title'] == 1
  assert report['rows_dropped']['rare_label_combination'] == 0


def test_eval_is_a_stratified_half_of_the_month_before_test(monthly_run):
  _, _, _, titles = monthly_run
  assert all(title.startswith(MONTHS[2]) for title in titles['eval'])
  per_kind = collections.Counter(title.split()[1] for title in titles['eval'])
  assert per_kind == {'vision': 20, 'language': 20}
  assert sum(title.startswith(MONTHS[2]) for title in titles['train']) == 40


def test_every_row_is_accounted_for_and_bad_rows_are_counted(monthly_run):
  report, _, _, _ = monthly_run
  assert report['rows_read'] == 4 * 80 + 3
  assert report['rows_dropped']['unparsable_terms'] == 1
  assert report['rows_kept'] + sum(report['rows_dropped'].values()) == report['rows_read']
  assert report['split_sizes'] == {'train': 200, 'eval': 40, 'test': 81}


def test_examples_carry_their_month_and_mlmd_records_the_spans(monthly_run):
  _, examples, splits, _ = monthly_run
  assert examples.span == spans.month_number(MONTHS[-1])
  assert examples.get_string_custom_property('test_spans') == MONTHS[-1]
  assert examples.get_string_custom_property('train_spans') == ','.join(MONTHS[:3])
  test_spans = {paper.span for paper in splits['test']}
  assert test_spans == {spans.month_number(MONTHS[-1])}
  train_spans = {paper.span for paper in splits['train']}
  assert train_spans == {spans.month_number(m) for m in MONTHS[:3]}


def test_an_empty_month_file_stops_the_run_naming_it(tmp_path):
  for month in MONTHS[:2]:
    write_csv(str(tmp_path / f'papers_{month}.csv'), month_rows(month))
  open(tmp_path / f'papers_{MONTHS[2]}.csv', 'w').close()
  with pytest.raises(records.InputError, match=f'papers_{MONTHS[2]}.csv: the file is empty'):
    execute_example_gen(str(tmp_path / 'run'), str(tmp_path / 'papers_{YYYY}-{MM}.csv'))


def test_a_missing_month_stops_the_run_naming_it(tmp_path):
  for month in (MONTHS[0], MONTHS[2]):
    write_csv(str(tmp_path / f'papers_{month}.csv'), month_rows(month))
  with pytest.raises(records.InputError, match=f'span\\(s\\) {MONTHS[1]} missing'):
    execute_example_gen(str(tmp_path / 'run'), str(tmp_path / 'papers_{YYYY}-{MM}.csv'))


def test_jensen_shannon_divergence():
  assert data_gate.jensen_shannon([1, 2, 3], [2, 4, 6]) == pytest.approx(0)
  assert data_gate.jensen_shannon([1, 0], [0, 1]) == pytest.approx(1)
  assert 0 < data_gate.jensen_shannon([5, 5], [6, 4]) < 0.01


def test_length_drift_needs_a_divergence_beyond_sampling_noise():
  train = [0, 10, 400, 900, 500, 150, 40, 0]
  def report(test):
    return {'train': train, 'test': test}
  # Few test papers: a sizeable divergence, but noise explains it.
  noisy = data_gate.length_drift(report([0, 0, 3, 6, 2, 1, 0, 0]), threshold=0.02)
  assert noisy['value'] > 0.02 and noisy['p_value'] > 0.001 and not noisy['drifted']
  # Many papers, all short: drift.
  shifted = data_gate.length_drift(report([50, 900, 500, 50, 0, 0, 0, 0]), threshold=0.02)
  assert shifted['value'] > 0.3 and shifted['p_value'] < 1e-6 and shifted['drifted']
  # Many papers of the same shape: nothing.
  same = data_gate.length_drift(report([0, 11, 390, 910, 490, 160, 39, 0]), threshold=0.02)
  assert same['value'] < 0.001 and not same['drifted']


def test_the_report_counts_each_splits_words_against_trains_vocabulary(monthly_run):
  report = monthly_run[0]
  vocabulary = report['vocabulary']
  splits = vocabulary['splits']
  top = vocabulary['top_train_words']
  train_counts = splits['train']['top_train_words']
  assert train_counts == sorted(train_counts, reverse=True) and 'number' in top[:3]
  for split, counts in splits.items():
    assert counts['words'] == sum(counts['top_train_words']) + counts['other_words'], split
  assert splits['train']['words_not_in_train'] == 0
  # The test month's name (a word after punctuation is stripped) is new to train.
  assert splits['test']['words_not_in_train'] >= 81
  assert MONTHS[-1].replace('-', '') not in top


def test_words_are_counted_as_transform_tokenizes_them():
  paper = records.Paper(('f', 0), 'Self-Supervised ViT:', "A model's 3.5x gain (on GPUs).",
                        ('cs.CV',))
  tokens = preprocessing.tokenize(tf.constant([f'{paper.title} {paper.abstract}']))
  assert executor.words_of(paper) == [t.decode() for t in tokens.values.numpy()]


def test_vocabulary_drift_compares_the_word_mix_with_trains():
  train = [400_000, 300_000, 200_000, 100_000, 1_000_000]  # Four top words, then others.
  def report(test):
    return {
        'train': run_records.SplitWords(words=sum(train), top_train_words=train[:4],
                                        other_words=train[4], words_not_in_train=0),
        'test': run_records.SplitWords(words=sum(test), top_train_words=test[:4],
                                       other_words=test[4], words_not_in_train=test[4] // 10)}
  shifted = data_gate.vocabulary_drift(
      report([50_000, 300_000, 20_000, 100_000, 500_000]), threshold=0.02)
  assert shifted['value'] > 0.02 and shifted['drifted']
  assert shifted['test_words_not_in_train'] == pytest.approx(50_000 / 970_000, abs=1e-4)
  same = data_gate.vocabulary_drift(
      report([401_000, 299_000, 200_000, 100_000, 1_000_000]), threshold=0.02)
  assert same['value'] < 0.001 and not same['drifted']
  # A small test split: measured, not judged (noise alone exceeds the threshold).
  small = data_gate.vocabulary_drift(report([5_000, 30_000, 2_000, 10_000, 50_000]), 0.02)
  assert small['value'] > 0.02 and not small['judged'] and not small['drifted']
  assert data_gate.describe('vocabulary', small) == (
      f'vocabulary Jensen-Shannon {small["value"]:.4f} (threshold 0.02; not judged on '
      '97,000 test words), 5.1% of test words new to train')
  assert data_gate.drifted_word(small) == 'not judged'


def test_the_gate_passes_warns_or_stops():
  drift = {'label': {'measure': 'L-infinity', 'value': 0.3, 'threshold': 0.1,
                     'drifted': True}}
  assert data_gate.check({}, {}, 'stop')['verdict'] == 'pass'
  warned = data_gate.check({'test': {'labels': 'Unexpected value'}}, drift, 'warn')
  assert warned['verdict'] == 'warn'
  assert warned['problems'] == [
      'test split: labels: Unexpected value',
      'label drift of the test split from train: L-infinity 0.3 > 0.1']
  with pytest.raises(ValueError, match='on_problem'):
    data_gate.check({}, {}, 'ignore')


def test_the_gate_stops_a_run_whose_label_vocabulary_would_be_empty():
  train = statistics_pb2.DatasetFeatureStatisticsList()
  labels = train.datasets.add().features.add()
  labels.path.step.append(features.LABELS_KEY)
  for label, count in (('cs.LG', 7), ('cs.CV', 9), ('stat.ML', 2)):
    labels.string_stats.rank_histogram.buckets.add(label=label, sample_count=count)
  assert data_gate.most_frequent_label_count(train) == 9
  data_gate.check_label_vocabulary(train, min_label_count=9)
  with pytest.raises(errors.DataError, match=r'occurs often enough \(see --min-label-count\): '
                     r'the most frequent occurs 9 times, fewer than 10'):
    data_gate.check_label_vocabulary(train, min_label_count=10)
  with pytest.raises(errors.DataError, match='occurs 0 times'):
    data_gate.check_label_vocabulary(statistics_pb2.DatasetFeatureStatisticsList(
        datasets=[{}]), min_label_count=1)


def read_month(path):
  """(header, rows) of a month file."""
  with gzip.open(path, 'rt', encoding='utf-8', newline='') as f:
    reader = csv.reader(f)
    return next(reader), list(reader)


def sample_months(directory, months, rows=None):
  """Copies months of the bundled monthly sample (the first `rows` papers of each)
  into `directory`; returns the span pattern of the copies."""
  os.makedirs(directory, exist_ok=True)
  pattern = os.path.join(directory, os.path.basename(MONTHLY_SAMPLE))
  for month in months:
    source = MONTHLY_SAMPLE.replace('{YYYY}-{MM}', month)
    target = pattern.replace('{YYYY}-{MM}', month)
    if rows is None:
      shutil.copy(source, target)
    else:
      header, papers = read_month(source)
      write_csv(target, papers[:rows], header)
  return pattern


def run_in_process(data, output_root, *flags):
  """A small run in this process (no interpreter to start): its summary. For the
  checks that are not about the command line's own output."""
  return run_local.run(run_local.parse_config(
      ['--data', data, '--output-root', str(output_root), *SMALL, *flags]))


def test_a_shifted_month_stops_the_run_before_transform(tmp_path):
  data = sample_months(str(tmp_path / 'data'), ('2025-03', '2025-04', '2025-05'), rows=120)
  # Next month, every paper is suddenly labelled math.NT.
  header, rows = read_month(data.replace('{YYYY}-{MM}', '2025-05'))
  title, terms = header.index(features.CSV_TITLE_COLUMN), header.index(features.CSV_TERMS_COLUMN)
  write_csv(data.replace('{YYYY}-{MM}', '2025-06'),
            [[f'Shifted {value}' if i == title else "['math.NT']" if i == terms else value
              for i, value in enumerate(row)] for row in rows], header)

  completed = subprocess.run(run_local_command(data, tmp_path / 'out', '--on-data-problem',
                                               'stop'), capture_output=True, text=True)
  assert completed.returncode == 1, completed.stderr[-2000:]
  assert 'The run stopped: the data check stopped the run before Transform' in completed.stderr
  assert 'label drift of the test split from train: L-infinity' in completed.stderr
  assert 'Traceback' not in completed.stderr
  assert not glob.glob(str(tmp_path / 'out' / 'pipeline' / '*' / 'Transform' / '*' / '*'))

  # The verdict is DataGate's: the run need not train to show it.
  warned = run_in_process(data, tmp_path / 'warned', '--on-data-problem', 'warn',
                          '--stop-after', 'DataGate')
  assert 'data check: warn' in run_summary.component_line(warned, 'DataGate')
  check = summary_of(tmp_path / 'warned')['data_check']
  assert check['drift']['label']['drifted'] and check['drift']['label']['value'] > 0.5
  assert check['drift']['vocabulary']['measure'] == 'Jensen-Shannon'


def examples_spans(output_root):
  """(span, test_spans) of every Examples artifact ExampleGen wrote, from the run's ML
  Metadata (Transform's transformed examples are Examples too, without spans)."""
  config = run_local.parse_config(['--output-root', str(output_root)])
  store = metadata_store.MetadataStore(config.metadata_connection_config())
  return [(a.properties['span'].int_value, a.custom_properties['test_spans'].string_value)
          for a in store.get_artifacts_by_type('Examples') if 'test_spans' in a.custom_properties]


def test_a_new_month_is_picked_up_and_what_did_not_change_is_cached(tmp_path):
  months = ('2025-12', '2026-01', '2026-02', '2026-03')
  data = sample_months(str(tmp_path / 'data'), months, rows=120)
  output_root = tmp_path / 'out'
  # The cache question ends at the Trainer: evaluating and pushing would add ~25 s a run.
  first = run_in_process(data, output_root, '--stop-after', 'Trainer')
  states = component_states(summary_of(output_root))
  assert all(state == 'COMPLETE' for state in states.values()), states
  assert first['data']['spans']['test'] == ['2026-03']
  assert first['data']['split_sizes']['test'] == 120
  assert ('spans train 2025-12..2026-02, eval 2026-02, test 2026-03' in
          run_summary.format_summary(first))

  sample_months(str(tmp_path / 'data'), ('2026-04',), rows=120)
  # Pinned to the same test month, the window's files are unchanged: all cached.
  run_in_process(data, output_root, '--last-span', '2026-03', '--stop-after', 'Trainer')
  states = component_states(summary_of(output_root))
  assert all(states[node] == 'CACHED' for node in COMPONENTS[:7]), states

  # Unpinned, the new month is the test month: ExampleGen and what follows run again,
  # the schema import (unchanged) comes from the cache.
  run_in_process(data, output_root, '--stop-after', 'Trainer')
  summary = summary_of(output_root)
  states = component_states(summary)
  assert summary['data']['spans']['test'] == ['2026-04']
  assert summary['data']['spans']['train'][-1] == '2026-03'
  assert states['ImportSchemaGen'] == 'CACHED'
  assert all(states[node] == 'COMPLETE' for node in
             ('ArxivExampleGen', 'StatisticsGen', 'DataGate', 'Transform', 'Trainer')), states
  assert sorted(examples_spans(output_root)) == [
      (spans.month_number('2026-03'), '2026-03'), (spans.month_number('2026-04'), '2026-04')]
