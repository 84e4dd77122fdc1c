"""The Beam components on Beam's other local runners, as far as Transform (the last
Beam component before the Trainer; `--stop-after Transform`):
- the portable runner, laid out as a cluster runs it: a job service and a worker
  pool, each a process of its own, reached over loopback (the layout of a Flink or
  Spark job server with a worker-pool sidecar; here Beam's Python job service stands
  in for the JVM one);
- the DirectRunner with one worker process per core (the direct-multiprocessing preset).

Each run must see the same data as the in-process DirectRunner's (`first_run` in
conftest.py): rows, drops and the papers of each split from ExampleGen, the label
vocabulary from Transform, and the head of its n-gram vocabulary. The tail is not
comparable: the vocabulary is a streaming top-k sketch whose counts, where many
n-grams tie at the cap, depend on how the runner bundles the data (measured on this
sample: the first 2,125 of 20,000 entries identical, 367 different n-grams in the
tail).
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
from components.example_gen import executor
from tests.conftest import COMPONENTS, RUN_LOCAL, with_flags


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


# What `--stop-after Transform` runs: Transform and the components it waits for.
UP_TO_TRANSFORM = COMPONENTS[:COMPONENTS.index('Transform') + 1]
# The most frequent n-grams, whose sketched counts are exact on either runner.
EXACT_HEAD = 1000


def read_lines(path: str):
  with open(path, encoding='utf-8') as f:
    return f.read().splitlines()


def transform_assets(output_root: str):
  """The Transform graph's vocabulary files of the run under `output_root`."""
  (transform_fn,) = glob.glob(os.path.join(output_root, 'pipeline', '*', 'Transform',
                                           'transform_graph', '*', 'transform_fn'))
  return os.path.join(transform_fn, 'assets')


def split_titles(output_root: str):
  """{split: sorted titles} of the Examples ExampleGen wrote under `output_root`."""
  titles = {}
  for split in features.SPLITS:
    examples_uri, = glob.glob(os.path.join(output_root, 'pipeline', '*', 'ArxivExampleGen',
                                           'examples', '*'))
    titles[split] = sorted(paper.title for paper in executor.read_papers(examples_uri, split))
  return titles


def run_to_transform(flags, output_root: str, *beam_flags: str):
  """The pipeline up to Transform under `output_root`; its run summary."""
  completed = subprocess.run(
      [sys.executable, RUN_LOCAL,
       *with_flags(flags, output_root=output_root), '--stop-after', 'Transform', *beam_flags],
      capture_output=True, text=True)
  assert completed.returncode == 0, completed.stderr[-3000:]
  with open(os.path.join(output_root, 'run_summary.json')) as f:
    return json.load(f)


def assert_same_data_as_direct_run(first_run, summary, output_root: str):
  assert set(summary['components']) == set(UP_TO_TRANSFORM)
  assert all(c['state'] == 'COMPLETE' for c in summary['components'].values())
  assert summary['data'] == first_run['data']  # Rows read, dropped, kept per split.
  direct_root = os.path.dirname(first_run['summary_path'])
  assert split_titles(output_root) == split_titles(direct_root)  # The same papers.
  direct, other = transform_assets(direct_root), transform_assets(output_root)
  assert filecmp.cmp(os.path.join(direct, features.LABEL_VOCABULARY),
                     os.path.join(other, features.LABEL_VOCABULARY), shallow=False)
  direct_ngrams, other_ngrams = (
      read_lines(os.path.join(assets, features.NGRAM_VOCABULARY))
      for assets in (direct, other))
  assert len(other_ngrams) == len(direct_ngrams)
  assert other_ngrams[:EXACT_HEAD] == direct_ngrams[:EXACT_HEAD]


def test_portable_runner_sees_the_same_data_as_the_direct_runner(
    first_run, flags, beam_services, tmp_path):
  job_endpoint, worker_pool = beam_services
  output_root = str(tmp_path / 'portable')
  summary = run_to_transform(flags, output_root, '--beam-preset', 'portable',
                             '--job-endpoint', job_endpoint, '--worker-pool', worker_pool)
  assert_same_data_as_direct_run(first_run, summary, output_root)


def test_multiprocessing_preset_sees_the_same_data_as_the_direct_runner(
    first_run, flags, tmp_path):
  output_root = str(tmp_path / 'multiprocessing')
  summary = run_to_transform(flags, output_root, '--beam-preset', 'direct-multiprocessing')
  assert_same_data_as_direct_run(first_run, summary, output_root)
