"""The pipeline on Beam's other local runners, against the in-process DirectRunner's
run (`first_run` in conftest.py):
- the portable runner, laid out as a cluster runs it: a job service and a worker
  pool, each a process of its own, reached over loopback (the layout of a Flink or
  Spark job server with a worker-pool sidecar; here Beam's Python job service stands
  in for the JVM one), as far as Transform (the last Beam component before the
  Trainer; `--stop-after Transform`): the same rows, drops and papers per split, and
  the same label and n-gram vocabulary files;
- the DirectRunner with one worker process per core (the direct-multiprocessing
  preset), the whole pipeline on the same papers in another order: the same data
  and vocabularies, and the same model. This is the repeatability check (the same
  papers and seed train the same model, whatever order they come in): every
  component downstream of the CSV (ExampleGen's files, Transform's analysis and
  output, the Trainer's input) sees the papers in another order than `first_run`'s,
  and must report the same test metrics and push a model that gives the same
  probabilities (to 1e-6). The papers are reordered in the CSV as well as by the
  runner: on so small an input the two runners alone write the same order.
"""

import contextlib
import filecmp
import glob
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from components import features
from components.example_gen import executor
from serving.predictor import Predictor
from tests.conftest import (COMPONENTS, LANGUAGE, RUN_LOCAL, SHORT, VISION, read_csv_rows,
                            sample_rows, summary_of, with_flags, write_csv)


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


def run_pipeline(flags, output_root: str, *more_flags: str):
  """`pipeline/run_local.py` with `flags` into `output_root`; its run summary."""
  completed = subprocess.run(
      [sys.executable, RUN_LOCAL, *with_flags(flags, output_root=output_root), *more_flags],
      capture_output=True, text=True)
  assert completed.returncode == 0, completed.stderr[-3000:]
  return summary_of(output_root)


def assert_same_data_as_direct_run(first_run, summary, output_root: str, components,
                                   rows_reordered: bool = False):
  assert set(summary['components']) == set(components)
  assert all(c['state'] == 'COMPLETE' for c in summary['components'].values())
  # Rows read, dropped (per reason, with examples), kept per split.
  direct, other = (dict(s['data']) for s in (first_run, summary))
  if rows_reordered:  # The examples of dropped rows name row numbers: only count them.
    direct_examples, other_examples = (
        {reason: len(rows) for reason, rows in data.pop('dropped_examples').items()}
        for data in (direct, other))
    assert other_examples == direct_examples
  assert other == direct
  direct_root = os.path.dirname(first_run['summary_path'])
  assert split_titles(output_root) == split_titles(direct_root)  # The same papers.
  for vocabulary in (features.LABEL_VOCABULARY, features.NGRAM_VOCABULARY):
    assert filecmp.cmp(os.path.join(transform_assets(direct_root), vocabulary),
                       os.path.join(transform_assets(output_root), vocabulary),
                       shallow=False), vocabulary


def test_portable_runner_sees_the_same_data_as_the_direct_runner(
    first_run, flags, beam_services, tmp_path):
  job_endpoint, worker_pool = beam_services
  output_root = str(tmp_path / 'portable')
  summary = run_pipeline(flags, output_root, '--stop-after', 'Transform',
                         '--beam-preset', 'portable',
                         '--job-endpoint', job_endpoint, '--worker-pool', worker_pool)
  assert_same_data_as_direct_run(first_run, summary, output_root, UP_TO_TRANSFORM)


def reordered(rows):
  """`rows` in reverse order, except that of rows sharing a title the one ExampleGen
  keeps (the first) still comes before the others: the same papers are kept."""
  titles, firsts, repeats = set(), [], []
  for row in rows:
    (repeats if row[0] in titles else firsts).append(row)
    titles.add(row[0])
  return firsts[::-1] + repeats


def test_multiprocessing_preset_on_reordered_papers_trains_the_same_model(
    first_run, flags, tmp_path):
  papers = read_csv_rows(flags[flags.index('--data') + 1])
  data = write_csv(str(tmp_path / 'reordered.csv'), reordered(papers))
  output_root = str(tmp_path / 'multiprocessing')
  summary = run_pipeline(with_flags(flags, data=data), output_root,
                         '--beam-preset', 'direct-multiprocessing')
  assert_same_data_as_direct_run(first_run, summary, output_root, first_run['components'],
                                 rows_reordered=True)
  for name in ('vocabulary_size', 'num_labels', 'members', 'threshold'):
    assert summary['model'][name] == first_run['model'][name], name
  assert set(first_run['test_metrics']) >= {'micro_f1', 'macro_f1'}
  for name, value in first_run['test_metrics'].items():
    assert summary['test_metrics'][name] == pytest.approx(value, abs=1e-6), name
  abstracts = [VISION, LANGUAGE, SHORT] + [abstract for _, abstract, _ in sample_rows(20)]
  direct_model, other_model = (Predictor(s['pushed_model_path']) for s in (first_run, summary))
  assert direct_model.labels == other_model.labels
  probabilities = [model.outputs(abstracts, [''] * len(abstracts))[features.PROBABILITIES_KEY]
                   for model in (direct_model, other_model)]
  assert np.abs(probabilities[0] - probabilities[1]).max() <= 1e-6


def test_reordering_keeps_the_first_of_each_title_first():
  rows = [('a', '1', 'x'), ('b', '2', 'x'), ('a', '3', 'x'), ('c', '4', 'x')]
  assert reordered(rows) == [('c', '4', 'x'), ('b', '2', 'x'), ('a', '1', 'x'),
                             ('a', '3', 'x')]
