"""Runs that stop for a reason, runs killed midway, runs side by side.

Each test runs `pipeline/run_local.py` as a user would, in processes of its own, on
a small slice of the bundled sample.
"""

import glob
import json
import os
import signal
import subprocess
import sys
import time

from pipeline.config import REPOSITORY_ROOT
from tests.conftest import sample_rows, write_csv
from tests.test_pipeline_e2e import COMPONENTS

RUN_LOCAL = os.path.join(REPOSITORY_ROOT, 'pipeline', 'run_local.py')
# One epoch: these runs check data handling, caching and recovery, not learning.
SMALL = ['--epochs', '1', '--batch-size', '64', '--max-vocabulary-size', '5000',
         '--min-micro-f1', '0']


def command(data, output_root, *flags):
  return [sys.executable, RUN_LOCAL, '--data', data, '--output-root', str(output_root),
          *SMALL, *flags]


def summary_of(output_root):
  with open(os.path.join(output_root, 'run_summary.json')) as f:
    return json.load(f)


def serving_root(output_root):
  return os.path.join(output_root, 'serving_model', 'arxiv-subject-areas')


def test_an_empty_label_vocabulary_stops_the_run_before_training(tmp_path):
  data = write_csv(str(tmp_path / 'papers.csv'), sample_rows(600))
  completed = subprocess.run(command(data, tmp_path / 'out', '--min-label-count', '1000000'),
                             capture_output=True, text=True)
  assert completed.returncode == 1
  assert 'The run stopped: the label vocabulary' in completed.stderr
  assert 'occurs often enough (see --min-label-count)' in completed.stderr
  assert 'Traceback' not in completed.stderr
  assert not os.path.exists(serving_root(tmp_path / 'out'))


def test_a_missing_column_stops_the_run_naming_the_file(tmp_path):
  data = write_csv(str(tmp_path / 'papers.csv'), [('t', 'a')], header=('titles', 'summaries'))
  completed = subprocess.run(command(data, tmp_path / 'out'), capture_output=True, text=True)
  assert completed.returncode == 1
  assert f'The run stopped: {data}: missing required column(s) terms' in completed.stderr
  assert 'Traceback' not in completed.stderr


def test_a_run_killed_during_training_completes_when_started_again(tmp_path):
  data = write_csv(str(tmp_path / 'papers.csv'), sample_rows(600))
  output_root = tmp_path / 'out'
  trainer_outputs = output_root / 'pipeline' / 'arxiv-subject-areas' / 'Trainer'
  run = subprocess.Popen(command(data, output_root, '--epochs', '200'),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
  deadline = time.monotonic() + 300
  # TensorBoard's log directory appears when model.fit begins.
  while not glob.glob(str(trainer_outputs / 'model_run' / '*' / 'train')):
    assert run.poll() is None, 'the run ended before training started'
    assert time.monotonic() < deadline, 'training did not start within 300 s'
    time.sleep(0.1)
  os.killpg(run.pid, signal.SIGKILL)
  run.wait()
  assert not os.path.exists(serving_root(output_root)) or not os.listdir(
      serving_root(output_root))

  subprocess.run(command(data, output_root), check=True, capture_output=True)
  summary = summary_of(output_root)
  states = {node: c['state'] for node, c in summary['components'].items()}
  assert all(states[node] == 'CACHED' for node in COMPONENTS[:6]), states
  assert states['Trainer'] == states['Evaluator'] == states['Pusher'] == 'COMPLETE'
  assert summary['pushed']
  # One complete version, nothing staged or half-written beside it.
  [version] = os.listdir(serving_root(output_root))
  assert os.path.exists(os.path.join(serving_root(output_root), version, 'saved_model.pb'))


def test_two_runs_into_different_output_roots_at_once_do_not_interfere(tmp_path):
  data = write_csv(str(tmp_path / 'papers.csv'), sample_rows(600))
  roots = [tmp_path / 'a', tmp_path / 'b']
  runs = [subprocess.Popen(command(data, root), stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True) for root in roots]
  for run in runs:
    _, stderr = run.communicate(timeout=900)
    assert run.returncode == 0, stderr[-3000:]
  first, second = (summary_of(root) for root in roots)
  for summary, root in ((first, roots[0]), (second, roots[1])):
    assert all(c['state'] == 'COMPLETE' for c in summary['components'].values())
    assert summary['pushed_model_path'].startswith(str(root))
    assert len(os.listdir(serving_root(root))) == 1
  assert first['data'] == second['data']
  assert first['model']['vocabulary_size'] == second['model']['vocabulary_size']
