"""The whole pipeline on LocalDagRunner, on a slice of the bundled sample.

The session's run (`first_run` in conftest.py) must execute every component, bless
and push a model whose raw-text signature gives sensible labels. A rerun through the
command line must reuse every cached component, and a stricter blessing threshold
must stop the push.
"""

import json
import os
import subprocess
import sys

import tensorflow as tf
import tensorflow_data_validation as tfdv
import tensorflow_model_analysis as tfma
from tfx.types import standard_component_specs as specs

from components import features
from components import multilabel_metrics
from pipeline import definition
from pipeline import run_local
from pipeline.config import REPOSITORY_ROOT
from serving.predictor import Predictor
from tests.conftest import (COMPONENTS, LANGUAGE, RUN_LOCAL, VISION, sample_rows,
                            with_flags, write_csv)


def test_every_component_runs(first_run):
  assert set(first_run['components']) == set(COMPONENTS)
  assert all(c['state'] == 'COMPLETE' for c in first_run['components'].values())


def test_run_summary_accounts_for_every_row(first_run):
  data = first_run['data']
  assert data['rows_read'] == 1200
  assert data['rows_kept'] + sum(data['rows_dropped'].values()) == 1200
  assert data['rows_dropped']['rare_label_combination'] > 0
  assert sum(data['split_sizes'].values()) == data['rows_kept']
  assert data['split_sizes']['train'] > 10 * data['split_sizes']['test'] > 0
  assert first_run['anomalies'] == {}  # Real, clean data matches the curated schema.
  # A random split: no spans, and test drifts from train by sampling noise alone.
  assert data['spans'] == {}
  # On ~50 test papers the length and vocabulary divergences exceed their thresholds
  # by sampling noise alone; the gate's significance test (length) and minimum test
  # size (vocabulary) keep that from counting as drift.
  assert first_run['data_check']['verdict'] == 'pass'
  with open(first_run['summary_path']) as f:
    assert json.load(f)['data'] == data


def test_model_is_evaluated_blessed_and_pushed(first_run):
  metrics = first_run['test_metrics']
  assert {'micro_f1', 'precision_at_1', 'precision_at_3', 'micro_auc',
          'binary_accuracy'} <= set(metrics)
  assert metrics['micro_f1'] >= 0.2
  assert first_run['blessed'] and first_run['pushed']
  assert os.path.exists(os.path.join(first_run['pushed_model_path'], 'saved_model.pb'))
  for member in first_run['model']['members']:
    assert member['epochs_run'] >= member['best_epoch']
  for curve in first_run['model']['training_curves']:
    with open(curve, 'rb') as f:
      assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_tfma_results_read_as_a_tfx_user_reads_them(first_run):
  """`tfma.load_eval_result` on the Evaluator's output: every figure under one
  output, the example count included, each label's under its class_id, on the
  overall slice and on the others, and plots `render_plot` draws."""
  uri = first_run['artifacts'][definition.EVALUATOR][specs.EVALUATION_KEY]
  result = tfma.load_eval_result(uri)
  overall = result.get_metrics_for_slice(())
  assert overall['example_count']['doubleValue'] == first_run['data']['split_sizes']['test']
  assert {'micro_f1', 'macro_f1', 'precision_at_1'} <= set(overall)
  assert {entry.key.output_name for slice_metrics in tfma.load_metrics(uri)
          for entry in slice_metrics.metric_keys_and_values} == {''}
  labels = Predictor(first_run['pushed_model_path']).labels
  supports = [result.get_metrics_for_slice((), class_id=class_id)['support']['doubleValue']
              for class_id in range(len(labels))]
  assert sum(supports) >= first_run['data']['split_sizes']['test']  # A paper, 1+ labels.
  first = supports.index(max(supports))
  assert set(multilabel_metrics.LABEL_METRICS) <= set(
      result.get_metrics_for_slice((), class_id=first))
  sliced = [s for s, _ in result.slicing_metrics if s]
  assert sliced and 'f1' in result.get_metrics_for_slice(sliced[0], class_id=first)
  # TFMA's own plot view draws the plots: all labels' calibration and the multi-label
  # confusion; per label its calibration and its confusion at 100 thresholds (the
  # precision-recall curve).
  assert {'calibrationHistogramBuckets', 'multiLabelConfusionMatrixAtThresholds'} <= set(
      tfma.view.render_plot(result).data)
  per_label = tfma.view.render_plot(result, class_id=first).data
  assert len(per_label['confusionMatrixAtThresholds']['matrices']) == 100
  assert 'calibrationHistogramBuckets' in per_label


def test_pushed_model_labels_raw_text_sensibly(first_run):
  predictor = Predictor(first_run['pushed_model_path'])
  vision, language = predictor.predict([VISION, LANGUAGE])
  assert 'cs.CV' in [label for label, _ in vision.top_k]
  assert 'cs.CL' in [label for label, _ in language.top_k]
  assert vision.probabilities['cs.CV'] > language.probabilities['cs.CV']
  assert language.probabilities['cs.CL'] > vision.probabilities['cs.CL']
  assert len(vision.top_k) == 3 and set(vision.probabilities) == set(predictor.labels)


def test_examples_signature_serves_tfma(first_run):
  model = tf.saved_model.load(first_run['pushed_model_path'])
  example = tf.train.Example(features=tf.train.Features(feature={
      features.TITLE_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[b'A title'])),
      features.ABSTRACT_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[VISION.encode()])),
  }))
  outputs = model.signatures[features.EXAMPLES_SIGNATURE](
      examples=tf.constant([example.SerializeToString()]))
  probabilities = outputs[features.PROBABILITIES_KEY].numpy()
  decisions = outputs[features.DECISION_SCORES_KEY].numpy()
  thresholds = model.signatures[features.LABELS_SIGNATURE]()['thresholds'].numpy()
  # A decision score reaches 0.5 exactly where the probability reaches its threshold.
  assert ((decisions >= 0.5) == (probabilities >= thresholds)).all()


def test_predict_command_labels_a_csv_in_batch(first_run, tmp_path):
  data = write_csv(str(tmp_path / 'new.csv'), [(t, a, '') for t, a, _ in sample_rows(5)])
  output = tmp_path / 'predictions.jsonl'
  subprocess.run([sys.executable, os.path.join(REPOSITORY_ROOT, 'pipeline', 'predict.py'),
                  '--model', os.path.dirname(first_run['pushed_model_path']),
                  '--input', data, '--output', str(output)], check=True)
  lines = [json.loads(line) for line in output.read_text().splitlines()]
  assert [line['row'] for line in lines] == [1, 2, 3, 4, 5]
  assert all(len(line['top_k']) == 3 and len(line['probabilities']) > 3 for line in lines)


def logged_path(output: str) -> str:
  """The log file a quiet run names on its last line about it."""
  [line] = [line for line in output.splitlines() if line.strip().startswith('log (')]
  return line.split(': ', 1)[1]


def test_rerun_from_the_command_line_reuses_cached_components(first_run, flags):
  completed = subprocess.run(
      [sys.executable, RUN_LOCAL] + flags,
      check=True, capture_output=True, text=True)
  assert 'blessed: yes' in completed.stdout
  # Quiet: a line per component, the summary, the log's path; the noise is in the log.
  lines = completed.stdout.splitlines()
  assert len(lines) < 40, completed.stdout
  for node in COMPONENTS:
    assert any(line.strip().startswith(f'✓ {node} ') for line in lines), node
  assert 'Trainer ' in completed.stdout and '(cached)' in completed.stdout
  noise = [line for line in (completed.stdout + completed.stderr).splitlines()
           if 'WARNING' in line or 'Warning' in line]
  assert noise == []
  with open(logged_path(completed.stdout), encoding='utf-8') as f:
    log = f.read()
  assert 'FutureWarning' in log and 'INFO:absl:Component Trainer is running.' in log
  summary_path = os.path.join(flags[flags.index('--output-root') + 1], 'run_summary.json')
  with open(summary_path) as f:
    rerun = json.load(f)
  assert rerun['run_id'] != first_run['run_id']
  states = {node: c['state'] for node, c in rerun['components'].items()}
  # The first run's model is now the blessed baseline: evaluation (and so the push
  # decision) runs again against it, everything upstream comes from the cache.
  assert all(states[node] == 'CACHED' for node in COMPONENTS[:7]), states
  assert states['Evaluator'] == states['Pusher'] == 'COMPLETE'
  # The same model is not published twice.
  assert rerun['pushed_model_path'] == first_run['pushed_model_path']
  # Its labels' F1 changes are measured against the baseline, which is this model.
  with open(rerun['report']['html'], encoding='utf-8') as f:
    page = f.read()
  per_label = page[page.index('<table id="per-label">'):]
  per_label = per_label[:per_label.index('</table>')]
  assert per_label.count('<td>+0.0000</td></tr>') == per_label.count('<tr>') - 1 > 0
  assert len(os.listdir(os.path.dirname(first_run['pushed_model_path']))) == 1


def test_a_stricter_blessing_threshold_stops_the_push(first_run, flags):
  strict = run_local.run(run_local.parse_config(with_flags(flags, min_micro_f1=0.99)))
  assert strict['components']['Trainer']['state'] == 'CACHED'
  assert strict['components']['Evaluator']['state'] == 'COMPLETE'
  assert not strict['blessed'] and not strict['pushed']
  serving_root = os.path.dirname(first_run['pushed_model_path'])
  assert os.listdir(serving_root) == [os.path.basename(first_run['pushed_model_path'])]
  with open(strict['report']['markdown']) as f:
    summary = f.read()
  assert '**Not blessed: not pushed.**' in summary
  assert 'micro_f1' in summary and '< 0.99 required' in summary


def test_a_failing_component_shows_its_error_and_the_log_not_a_traceback(flags, tmp_path):
  output_root = tmp_path / 'outputs'
  output_root.mkdir()
  (output_root / 'pipeline').write_text('a file where the pipeline root should be')
  completed = subprocess.run(
      [sys.executable, RUN_LOCAL,
       *with_flags(flags, output_root=output_root)], capture_output=True, text=True)
  assert completed.returncode == 1
  assert '✗ ArxivExampleGen failed after' in completed.stderr
  assert f'{output_root / "pipeline"} is not a directory' in completed.stderr
  assert 'Traceback' not in completed.stdout + completed.stderr
  with open(logged_path(completed.stderr), encoding='utf-8') as f:
    assert 'Traceback' in f.read()


def test_statistics_describe_the_text_not_its_values(first_run):
  """TFDV sees title and abstract as free text: presence and length, no top values
  (whole abstracts, before); the labels keep theirs, for the drift check."""
  statistics = tfdv.load_stats_binary(os.path.join(
      first_run['artifacts'][definition.STATISTICS_GEN][specs.STATISTICS_KEY],
      f'Split-{features.TRAIN_SPLIT}', 'FeatureStats.pb'))
  by_name = {f.path.step[0]: f for f in statistics.datasets[0].features}
  for text in (features.TITLE_KEY, features.ABSTRACT_KEY):
    string_stats = by_name[text].string_stats
    assert string_stats.avg_length > 20 and not string_stats.top_values
    assert not string_stats.rank_histogram.buckets
  assert 'cs.CV' in [v.value for v in by_name[features.LABELS_KEY].string_stats.top_values]
