"""Runs that stop for a reason, runs killed midway, runs side by side.

Each test runs `pipeline/run_local.py` as a user would, in processes of its own, on
a small slice of the bundled sample.
"""

import glob
import os
import signal
import subprocess
import time

from tests.conftest import (COMPONENTS, component_states, run_local_command, sample_rows,
                            summary_of, write_csv)


def serving_root(output_root):
  return os.path.join(output_root, 'serving_model', 'arxiv-subject-areas')


def test_an_empty_label_vocabulary_stops_the_run_before_transform(tmp_path):
  data = write_csv(str(tmp_path / 'papers.csv'), sample_rows(600))
  completed = subprocess.run(
      run_local_command(data, tmp_path / 'out', '--min-label-count', '1000000'),
      capture_output=True, text=True)
  assert completed.returncode == 1
  assert 'The run stopped: the label vocabulary would be empty' in completed.stderr
  assert 'occurs often enough (see --min-label-count)' in completed.stderr
  assert 'Traceback' not in completed.stderr
  pipeline_root = tmp_path / 'out' / 'pipeline' / 'arxiv-subject-areas'
  assert (pipeline_root / 'DataGate').is_dir()
  assert not (pipeline_root / 'Transform').exists()
  assert not os.path.exists(serving_root(tmp_path / 'out'))


def test_a_missing_column_stops_the_run_naming_the_file(tmp_path):
  data = write_csv(str(tmp_path / 'papers.csv'), [('t', 'a')], header=('titles', 'summaries'))
  completed = subprocess.run(run_local_command(data, tmp_path / 'out'),
                             capture_output=True, text=True)
  assert completed.returncode == 1
  assert f'The run stopped: {data}: missing required column(s) terms' in completed.stderr
  assert 'Traceback' not in completed.stderr


def test_a_mysql_password_reaches_no_terminal_and_no_file(tmp_path):
  """TFX logs its ML Metadata connection config, password included; the run redacts it.

  Nothing listens on port 1, so the run fails at its first component, after the
  config has been logged.
  """
  secret = 'fake-secret-4711'
  data = write_csv(str(tmp_path / 'papers.csv'), sample_rows(100))
  output_root = tmp_path / 'out'
  completed = subprocess.run(
      run_local_command(data, output_root, '--mysql', 'tfx@127.0.0.1:1/mlmd'),
      capture_output=True, text=True, env={**os.environ, 'MLMD_MYSQL_PASSWORD': secret})
  assert completed.returncode == 1
  assert 'Failed to establish connection to Metadata storage' in completed.stderr
  assert secret not in completed.stdout + completed.stderr
  (log,) = glob.glob(str(output_root / 'logs' / '*.log'))
  with open(log) as f:
    assert 'Using connection config' in f.read()
  for path in glob.glob(str(output_root / '**'), recursive=True):
    if os.path.isfile(path):
      with open(path, 'rb') as f:
        assert secret.encode() not in f.read(), path


def test_a_mysql_store_without_its_password_stops_the_run_saying_where_it_goes(tmp_path):
  environment = {k: v for k, v in os.environ.items() if k != 'MLMD_MYSQL_PASSWORD'}
  completed = subprocess.run(
      run_local_command(write_csv(str(tmp_path / 'papers.csv'), sample_rows(100)),
                        tmp_path / 'out', '--mysql', 'tfx@127.0.0.1:1/mlmd'),
      capture_output=True, text=True, env=environment)
  assert completed.returncode == 1
  assert '$MLMD_MYSQL_PASSWORD is not set' in completed.stderr
  assert 'Traceback' not in completed.stderr


def test_runs_side_by_side_do_not_interfere_and_a_killed_one_completes_when_started_again(
    tmp_path):
  """Two runs start at once into different output roots; one is killed once it
  trains, the other goes on to push. Started again, the killed run reuses what it
  had finished and completes. (One scenario: two independent ones ran the same
  components twice more.)"""
  data = write_csv(str(tmp_path / 'papers.csv'), sample_rows(600))
  killed_root, beside_root = tmp_path / 'killed', tmp_path / 'beside'
  trainer_outputs = killed_root / 'pipeline' / 'arxiv-subject-areas' / 'Trainer'
  killed = subprocess.Popen(run_local_command(data, killed_root, '--epochs', '200'),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
  beside = subprocess.Popen(run_local_command(data, beside_root), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
  deadline = time.monotonic() + 300
  # TensorBoard's log directory appears when model.fit begins.
  while not glob.glob(str(trainer_outputs / 'model_run' / '*' / 'train')):
    assert killed.poll() is None, 'the run ended before training started'
    assert time.monotonic() < deadline, 'training did not start within 300 s'
    time.sleep(0.1)
  os.killpg(killed.pid, signal.SIGKILL)
  killed.wait()
  assert not os.path.exists(serving_root(killed_root)) or not os.listdir(
      serving_root(killed_root))
  _, stderr = beside.communicate(timeout=900)
  assert beside.returncode == 0, stderr[-3000:]

  restart = subprocess.run(run_local_command(data, killed_root), capture_output=True, text=True)
  assert restart.returncode == 0, restart.stderr[-3000:]
  restarted, other = summary_of(killed_root), summary_of(beside_root)
  states = component_states(restarted)
  assert all(states[node] == 'CACHED' for node in COMPONENTS[:6]), states
  assert states['Trainer'] == states['Evaluator'] == states['Pusher'] == 'COMPLETE'
  assert all(state == 'COMPLETE' for state in component_states(other).values())
  for summary, root in ((restarted, killed_root), (other, beside_root)):
    assert summary['pushed']
    assert summary['pushed_model_path'].startswith(str(root))
    # One complete version, nothing staged or half-written beside it.
    [version] = os.listdir(serving_root(root))
    assert os.path.exists(os.path.join(serving_root(root), version, 'saved_model.pb'))
  assert restarted['data'] == other['data']
  assert restarted['model']['vocabulary_size'] == other['model']['vocabulary_size']
