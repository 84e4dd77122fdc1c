"""The Beam components through Beam's portable runner, laid out as a cluster runs them:
a job service and a worker pool, each a process of its own, reached over loopback
(the layout of a Flink or Spark job server with a worker-pool sidecar; here Beam's
Python job service stands in for the JVM one).

The run must see the same data as the in-process DirectRunner's (`first_run` in
conftest.py): rows, drops and splits from ExampleGen, the vocabularies from Transform.
"""

import contextlib
import filecmp
import glob
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from components import features
from pipeline.config import REPOSITORY_ROOT


def free_port() -> int:
  with contextlib.closing(socket.socket()) as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    assert process.poll() is None, f'{process.args} exited with {process.returncode}'
    with contextlib.suppress(OSError), socket.create_connection(('localhost', port), 1):
      return
    time.sleep(0.2)
  raise TimeoutError(f'nothing listens on port {port} after {timeout} s')


@pytest.fixture(scope='module')
def beam_services(tmp_path_factory):
  """(job endpoint, worker pool address) of a running job service and worker pool."""
  # The worker pool starts each SDK worker with the `python` first on PATH: this one.
  env = {**os.environ, 'PATH': os.path.dirname(sys.executable) + os.pathsep + os.environ['PATH']}
  job_port, pool_port = free_port(), free_port()
  logs = tmp_path_factory.mktemp('beam-services')
  processes = []
  try:
    for name, command, port in (
        ('job-service', ['apache_beam.runners.portability.local_job_service_main',
                         '--port', str(job_port)], job_port),
        ('worker-pool', ['apache_beam.runners.worker.worker_pool_main',
                         '--service_port', str(pool_port)], pool_port)):
      with open(logs / f'{name}.log', 'w') as log:
        processes.append(subprocess.Popen([sys.executable, '-m', *command], env=env,
                                          stdout=log, stderr=subprocess.STDOUT))
      wait_for_port(port, processes[-1])
    yield f'localhost:{job_port}', f'localhost:{pool_port}'
  finally:
    for process in processes:
      process.terminate()
      process.wait(timeout=30)


def transform_assets(output_root: str):
  """The Transform graph's vocabulary files of the run under `output_root`."""
  (transform_fn,) = glob.glob(os.path.join(output_root, 'pipeline', '*', 'Transform',
                                           'transform_graph', '*', 'transform_fn'))
  return os.path.join(transform_fn, 'assets')


def test_portable_runner_sees_the_same_data_as_the_direct_runner(
    first_run, flags, beam_services, tmp_path):
  job_endpoint, worker_pool = beam_services
  data = flags[flags.index('--data') + 1]
  output_root = str(tmp_path / 'portable')
  completed = subprocess.run(
      [sys.executable, os.path.join(REPOSITORY_ROOT, 'pipeline', 'run_local.py'),
       '--data', data, '--output-root', output_root, '--beam-preset', 'portable',
       '--job-endpoint', job_endpoint, '--worker-pool', worker_pool,
       '--epochs', '1', '--batch-size', '32', '--max-vocabulary-size', '20000',
       '--min-micro-f1', '0'], capture_output=True, text=True)
  assert completed.returncode == 0, completed.stderr[-3000:]
  with open(os.path.join(output_root, 'run_summary.json')) as f:
    summary = json.load(f)
  assert all(c['state'] == 'COMPLETE' for c in summary['components'].values())
  assert summary['data'] == first_run['data']  # Rows read, dropped, kept per split.
  direct = transform_assets(os.path.dirname(first_run['summary_path']))
  portable = transform_assets(output_root)
  for vocabulary in (features.NGRAM_VOCABULARY, features.LABEL_VOCABULARY):
    assert filecmp.cmp(os.path.join(direct, vocabulary), os.path.join(portable, vocabulary),
                       shallow=False), vocabulary
