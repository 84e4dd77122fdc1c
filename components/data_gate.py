"""DataGate: schema anomalies and drift of the newest span, checked before Transform.

ExampleValidator reports each split's schema anomalies but stops nothing. A model
trained on months whose data broke, or scored on a month unlike its training
window, is worth knowing about before an hour of Transform and training; whether
it stops the run or only warns is the operator's choice (`on_problem`).

Drift compares the `test` split (with monthly spans, the newest month) with the
`train` split (the training window):
- labels: TFDV's L-infinity distance between the two label distributions, against
  the `drift_comparator` threshold of `labels` in the curated schema;
- abstract length: Jensen-Shannon divergence (base 2, 0 to 1) of the words-per-
  abstract histograms that ExampleGen counts, against `max_length_divergence`.
  The divergence of two samples of one distribution is not 0, and the fewer test
  papers the larger it is, so a divergence counts as drift only when a chi-square
  test of the two histograms also finds the difference significant (p <
  `_SIGNIFICANCE`), which sampling noise alone rarely is;
- vocabulary: Jensen-Shannon divergence of the counts of train's most frequent
  words and of all other words (title + abstract) that ExampleGen counts, against
  `max_vocabulary_divergence`, judged only on a test split of at least
  `_MIN_TEST_WORDS` words. Sampling noise alone gives a divergence of about
  (words listed) / (8 ln 2 x test words) times the burstiness of words (a paper
  repeats its terms), which on a small split exceeds the threshold
  (docs/pipeline.md). A chi-square test cannot tell it apart, as it does for
  lengths: it takes words for independent draws and calls any two samples
  different. Beside it, the share of the test split's words that train never has
  (new terms: reported, not judged).
The findings go to a `data_check.json` artifact that the run summary and the
evaluation report show.

Whatever `on_problem` says, the gate stops a run whose label vocabulary would be
empty (no label of train occurs `min_label_count` times): Transform would learn
nothing to predict, and the Trainer would only find out after it.
"""

import glob
import json
import os
from typing import Any, Dict, List, Mapping, Sequence

import numpy as np
from scipy import stats as scipy_stats
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx import types
from tfx import v1 as tfx
from tfx.types import standard_artifacts
from tfx.utils import io_utils

from components import errors
from components import features
from components import run_records
from components.example_gen.component import DataReport

DATA_CHECK_FILE = 'data_check.json'
DATA_CHECK_KEY = 'data_check'  # DataGate's output: the name of its parameter below.
ON_PROBLEM_CHOICES = ('warn', 'stop')
_SIGNIFICANCE = 0.001
# Fewer test words (about 1,100 papers), and vocabulary drift is measured but not
# judged: sampling noise alone would exceed the threshold.
_MIN_TEST_WORDS = 200_000
_DRIFT_REASONS = (anomalies_pb2.AnomalyInfo.COMPARATOR_L_INFTY_HIGH,
                  anomalies_pb2.AnomalyInfo.COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH)


class DataCheck(types.Artifact):
  """JSON: schema anomalies per split, drift measurements, and the gate's verdict."""
  TYPE_NAME = 'arxiv.DataCheck'


class DataProblem(errors.DataError):
  """The data broke the schema or drifted, and the gate is set to stop the run."""


def read_anomalies(uri: str) -> Dict[str, Dict[str, str]]:
  """ExampleValidator's findings: {split: {feature: description}}; empty when clean."""
  found = {}
  for path in sorted(glob.glob(os.path.join(uri, 'Split-*', 'SchemaDiff.pb'))):
    anomalies = anomalies_pb2.Anomalies()
    with open(path, 'rb') as f:
      anomalies.ParseFromString(f.read())
    split = os.path.basename(os.path.dirname(path))[len('Split-'):]
    described = {feature: info.description for feature, info in anomalies.anomaly_info.items()}
    if anomalies.HasField('dataset_anomaly_info'):
      described['(dataset)'] = anomalies.dataset_anomaly_info.description
    if described:
      found[split] = described
  return found


def label_drift(train: statistics_pb2.DatasetFeatureStatisticsList,
                test: statistics_pb2.DatasetFeatureStatisticsList,
                schema: schema_pb2.Schema) -> Dict[str, Any]:
  """TFDV's L-infinity distance of the label distributions, and whether it is too far."""
  comparator = tfdv.get_feature(schema, features.LABELS_KEY).drift_comparator
  threshold = comparator.infinity_norm.threshold
  anomalies = tfdv.validate_statistics(test, schema, previous_statistics=train)
  distance = 0.0
  for info in anomalies.drift_skew_info:
    for measurement in info.drift_measurements:
      if measurement.type == anomalies_pb2.DriftSkewInfo.Measurement.L_INFTY:
        distance = max(distance, measurement.value)
  drifted = features.LABELS_KEY in anomalies.anomaly_info and any(
      reason.type in _DRIFT_REASONS
      for reason in anomalies.anomaly_info[features.LABELS_KEY].reason)
  return {'measure': 'L-infinity', 'value': round(distance, 4),
          'threshold': threshold, 'drifted': drifted}


def most_frequent_label_count(train: statistics_pb2.DatasetFeatureStatisticsList) -> int:
  """How many train papers carry the most frequent label (TFDV's rank histogram)."""
  for feature in train.datasets[0].features:
    if feature.path.step == [features.LABELS_KEY]:
      buckets = feature.string_stats.rank_histogram.buckets
      return int(max((bucket.sample_count for bucket in buckets), default=0))
  return 0


def check_label_vocabulary(train: statistics_pb2.DatasetFeatureStatisticsList,
                           min_label_count: int) -> None:
  """Raises DataError when no train label occurs `min_label_count` times: the
  label vocabulary Transform would learn is empty."""
  most = most_frequent_label_count(train)
  if most < min_label_count:
    raise errors.DataError(
        'the label vocabulary would be empty: no label of the train split occurs often '
        f'enough (see --min-label-count): the most frequent occurs {most:,} times, fewer '
        f'than {min_label_count:,}')


def jensen_shannon(counts_a: Sequence[float], counts_b: Sequence[float]) -> float:
  """Jensen-Shannon divergence (base 2: 0 same, 1 disjoint) of two histograms."""
  p = np.asarray(counts_a, float)
  q = np.asarray(counts_b, float)
  if not p.sum() or not q.sum():
    return 0.0
  p, q = p / p.sum(), q / q.sum()
  m = (p + q) / 2

  def kl(a):
    present = a > 0
    return float(np.sum(a[present] * np.log2(a[present] / m[present])))

  return (kl(p) + kl(q)) / 2


def length_drift(abstract_words: Mapping[str, Sequence[int]],
                 threshold: float) -> Dict[str, Any]:
  """Jensen-Shannon divergence of test's abstract-length histogram from train's
  (the data report's `abstract_words`), drift only where a chi-square test also
  finds the difference significant."""
  train, test = abstract_words[features.TRAIN_SPLIT], abstract_words[features.TEST_SPLIT]
  value = jensen_shannon(train, test)
  p_value = histogram_p_value(train, test)
  return {'measure': 'Jensen-Shannon', 'value': round(value, 4), 'threshold': threshold,
          'p_value': p_value, 'drifted': value > threshold and p_value < _SIGNIFICANCE}


def vocabulary_drift(splits: Mapping[str, run_records.SplitWords],
                     threshold: float) -> Dict[str, Any]:
  """Jensen-Shannon divergence of test's word counts from train's (train's top words
  and all others; the data report's `vocabulary.splits`), judged on a test split of
  `_MIN_TEST_WORDS` or more."""
  train, test = (splits[split].top_train_words + [splits[split].other_words]
                 for split in (features.TRAIN_SPLIT, features.TEST_SPLIT))
  value = jensen_shannon(train, test)
  test_words = splits[features.TEST_SPLIT]
  judged = test_words.words >= _MIN_TEST_WORDS
  return {'measure': 'Jensen-Shannon', 'value': round(value, 4), 'threshold': threshold,
          'drifted': judged and value > threshold, 'judged': judged,
          'test_words': test_words.words, 'test_words_not_in_train': round(
              test_words.words_not_in_train / max(test_words.words, 1), 4)}


def histogram_p_value(counts_a: Sequence[float], counts_b: Sequence[float]) -> float:
  """Chi-square test that two histograms are samples of one distribution."""
  table = np.array([counts_a, counts_b], float)
  table = table[:, table.sum(axis=0) > 0]
  if table.shape[1] < 2 or not table[0].sum() or not table[1].sum():
    return 1.0
  return float(scipy_stats.chi2_contingency(table)[1])


def describe(name: str, drift: Dict[str, Any]) -> str:
  """One drift measurement in words, for the run summary and the report."""
  text = f'{name} {drift["measure"]} {drift["value"]:.4f} (threshold {drift["threshold"]}'
  if not drift.get('judged', True):
    text += f'; not judged on {drift["test_words"]:,} test words'
  text += ')'
  if 'test_words_not_in_train' in drift:
    text += f', {drift["test_words_not_in_train"]:.1%} of test words new to train'
  return text


def drifted_word(drift: Dict[str, Any]) -> str:
  """'yes', 'no', or 'not judged' (too small a test split to tell)."""
  return 'yes' if drift['drifted'] else 'no' if drift.get('judged', True) else 'not judged'


def check(anomalies: Dict[str, Dict[str, str]], drift: Dict[str, Dict[str, Any]],
          on_problem: str) -> Dict[str, Any]:
  """The gate's verdict: 'pass', or 'warn' / 'stop' with the problems found."""
  if on_problem not in ON_PROBLEM_CHOICES:
    raise ValueError(f'on_problem must be one of {ON_PROBLEM_CHOICES}, got {on_problem!r}')
  problems: List[str] = [f'{split} split: {feature}: {description}'
                         for split, found in anomalies.items()
                         for feature, description in found.items()]
  problems += [f'{name} drift of the test split from train: {d["measure"]} {d["value"]} > '
               f'{d["threshold"]}' for name, d in drift.items() if d['drifted']]
  return {'verdict': on_problem if problems else 'pass', 'problems': problems,
          'anomalies': anomalies, 'drift': drift}


def _statistics(artifact: types.Artifact, split: str
                ) -> statistics_pb2.DatasetFeatureStatisticsList:
  path = os.path.join(artifact.uri, f'Split-{split}', 'FeatureStats.pb')
  return tfdv.load_stats_binary(path)


@tfx.dsl.components.component
def DataGate(  # pylint: disable=invalid-name
    statistics: tfx.dsl.components.InputArtifact[standard_artifacts.ExampleStatistics],
    schema: tfx.dsl.components.InputArtifact[standard_artifacts.Schema],
    anomalies: tfx.dsl.components.InputArtifact[standard_artifacts.ExampleAnomalies],
    data_report: tfx.dsl.components.InputArtifact[DataReport],
    data_check: tfx.dsl.components.OutputArtifact[DataCheck],
    on_problem: tfx.dsl.components.Parameter[str],
    max_length_divergence: tfx.dsl.components.Parameter[float],
    max_vocabulary_divergence: tfx.dsl.components.Parameter[float],
    min_label_count: tfx.dsl.components.Parameter[int]):
  """Writes the data check; raises DataProblem when there is one and `on_problem` is
  'stop', which ends the run before Transform, and DataError when the label
  vocabulary would be empty.

  The parameters have no defaults here: PipelineConfig (`on_data_problem`,
  `max_length_divergence`, `max_vocabulary_divergence`, `transform.min_label_count`)
  is their one source.
  """
  train_statistics = _statistics(statistics, features.TRAIN_SPLIT)
  check_label_vocabulary(train_statistics, min_label_count)
  schema_proto = io_utils.SchemaReader().read(
      io_utils.get_only_uri_in_dir(schema.uri))
  report = run_records.DataReport.read(data_report.uri)
  drift = {'label': label_drift(train_statistics,
                                _statistics(statistics, features.TEST_SPLIT), schema_proto),
           'abstract length': length_drift(report.abstract_words, max_length_divergence),
           'vocabulary': vocabulary_drift(report.vocabulary.splits,
                                          max_vocabulary_divergence)}
  result = check(read_anomalies(anomalies.uri), drift, on_problem)
  with open(os.path.join(data_check.uri, DATA_CHECK_FILE), 'w', encoding='utf-8') as f:
    json.dump(result, f, indent=2)
  data_check.set_string_custom_property('verdict', result['verdict'])
  if result['verdict'] == 'stop':
    raise DataProblem('the data check stopped the run before Transform (on_problem=stop): ' +
                      '; '.join(result['problems']))
