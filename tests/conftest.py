"""Shared test helpers and fixtures: small CSV files written the way the real data is,
the pipeline runs several modules check, and how the suite is spread over processes.

`make test` runs the suite in two pytest-xdist workers (pyproject.toml). A session
fixture is built once per worker, so the modules that use one are kept in one worker
(`pytest_collection_modifyitems`), each module's tests in one worker as well, and
the slow pipeline-running modules that share nothing are grouped so they start early
instead of trailing alone at the end.
"""

import collections
import csv
import gzip
import json
import os
import sys
from typing import Iterable, Sequence

import pytest

from components.features import SPLITS
from pipeline.config import REPOSITORY_ROOT, SAMPLE_DATA

HEADER = ('titles', 'summaries', 'terms')
# Every component of the pipeline, in the order create_pipeline wires them.
COMPONENTS = ('ArxivExampleGen', 'ImportSchemaGen', 'StatisticsGen', 'ExampleValidator',
              'DataGate', 'Transform', 'Trainer', 'latest_blessed_model_resolver',
              'Evaluator', 'Pusher')
RUN_LOCAL = os.path.join(REPOSITORY_ROOT, 'pipeline', 'run_local.py')
# One epoch of one model: runs that check data handling, caching and recovery, not
# learning (so no blessing gate either: such a model need not beat the label priors to
# be pushed). `first_run` trains the averaged model as it ships.
SMALL = ['--epochs', '1', '--batch-size', '64', '--max-vocabulary-size', '5000',
         '--ensemble-members', '1', '--min-micro-f1', '0', '--no-priors-check']

# Session fixtures (and the group their users run in): built once per worker.
SESSION_FIXTURE_GROUPS = {'first_run': 'first_run', 'vertex_spec': 'pipeline_specs',
                          'kubeflow_spec': 'pipeline_specs'}
# Modules that each run whole pipelines in processes of their own: one group, so that
# xdist (which hands out the groups with the most tests first) starts them early.
PIPELINE_RUN_MODULES = ('test_monthly', 'test_reliability')


@pytest.hookimpl(tryfirst=True)  # Before xdist's own hook reads the groups.
def pytest_collection_modifyitems(items):
  """Assigns each test its xdist group (see the module docstring)."""
  by_module = collections.defaultdict(list)
  for item in items:
    by_module[item.module.__name__.rsplit('.', 1)[-1]].append(item)
  for module, module_items in by_module.items():
    shared = sorted({SESSION_FIXTURE_GROUPS[name] for item in module_items
                     for name in item.fixturenames if name in SESSION_FIXTURE_GROUPS})
    assert len(shared) <= 1, f'{module} uses session fixtures of two groups: {shared}'
    group = shared[0] if shared else (
        'pipeline_runs' if module in PIPELINE_RUN_MODULES else module)
    for item in module_items:
      item.add_marker(pytest.mark.xdist_group(group))


def write_csv(path: str, rows: Iterable[Sequence[str]], header: Sequence[str] = HEADER) -> str:
  """Writes `rows` under `header`, gzip-compressed when the name ends in .gz."""
  opener = gzip.open if path.endswith('.gz') else open
  with opener(path, 'wt', encoding='utf-8', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(header)
    writer.writerows(rows)
  return path


def read_csv_rows(path: str, limit: int = None):
  """The data rows (header left out) of a CSV file, gzip-compressed or not, in order."""
  with (gzip.open if path.endswith('.gz') else open)(path, 'rt', encoding='utf-8',
                                                      newline='') as f:
    reader = csv.reader(f)
    next(reader)
    return [row for _, row in zip(range(limit) if limit else iter(int, 1), reader)]


def sample_rows(limit: int = None):
  """Data rows of the bundled sample, in file order."""
  return read_csv_rows(SAMPLE_DATA, limit)


@pytest.fixture(scope='session')
def flags(tmp_path_factory):
  """Command-line flags of the end-to-end run: a slice of the sample, small settings."""
  directory = tmp_path_factory.mktemp('e2e')
  data = write_csv(str(directory / 'papers.csv'), sample_rows(1200))
  return ['--data', data, '--output-root', str(directory / 'outputs'), '--epochs', '15',
          '--batch-size', '32', '--max-vocabulary-size', '20000', '--min-micro-f1', '0.2']


def with_flags(flags, **overrides):
  """`flags` with some values replaced: with_flags(flags, epochs=1)."""
  flags = list(flags)
  for name, value in overrides.items():
    flags[flags.index('--' + name.replace('_', '-')) + 1] = str(value)
  return flags


def run_local_command(data, output_root, *flags):
  """`pipeline/run_local.py` as a user runs it, with the SMALL settings and `flags`."""
  return [sys.executable, RUN_LOCAL, '--data', data, '--output-root', str(output_root),
          *SMALL, *flags]


def papers_example_gen_keeps(path):
  """(title, abstract, labels) of each record the pipeline's ExampleGen keeps from a
  gzip-compressed CSV, failing on any record it would drop."""
  # pylint: disable=g-import-not-at-top
  from components.example_gen import records
  with gzip.open(path, 'rb') as f:
    read = list(records.read_csv_records(path, records.text_lines(f)))
  assert [r for r in read if not isinstance(r, records.Paper)] == []
  return [(paper.title, paper.abstract, paper.labels) for paper in read]


def summary_of(output_root):
  """The run summary a run wrote under `output_root`."""
  with open(os.path.join(output_root, 'run_summary.json')) as f:
    return json.load(f)


def component_states(summary):
  """{component id: COMPLETE / CACHED / ...} of a run summary."""
  return {node: c['state'] for node, c in summary['components'].items()}


def execute_example_gen(output_dir, pattern, **properties):
  """Runs ArxivExampleGen's executor; returns (data report as a dict, Examples artifact,
  {split: [ExamplePaper]})."""
  # pylint: disable=g-import-not-at-top
  from tfx.types import standard_artifacts
  from components import run_records
  from components.example_gen import executor
  from components.example_gen.component import DataReport
  # pylint: enable=g-import-not-at-top
  examples = standard_artifacts.Examples()
  examples.uri = os.path.join(output_dir, 'examples')
  report = DataReport()
  report.uri = os.path.join(output_dir, 'report')
  executor.Executor().Do({}, {executor.EXAMPLES_KEY: [examples],
                              executor.DATA_REPORT_KEY: [report]}, {
      executor.INPUT_PATTERN_KEY: pattern,
      executor.SEED_KEY: 42,
      executor.EVAL_FRACTION_KEY: 0.05,
      executor.TEST_FRACTION_KEY: 0.05,
      executor.MIN_COMBINATION_COUNT_KEY: 2,
      **properties,
  })
  data_report = run_records.DataReport.read(report.uri).model_dump()
  papers = {split: executor.read_papers(examples.uri, split) for split in SPLITS}
  return data_report, examples, papers


def run_example_gen(output_dir, pattern, seed=42, min_combination_count=2):
  """Runs ArxivExampleGen's executor; returns (data report, {split: {title: (abstract,
  labels)}})."""
  data_report, _, papers = execute_example_gen(output_dir, pattern, seed=seed,
                                               min_combination_count=min_combination_count)
  return data_report, {split: {paper.title: (paper.abstract, paper.labels)
                               for paper in split_papers}
                       for split, split_papers in papers.items()}


@pytest.fixture(scope='session')
def first_run(flags):
  """One real LocalDagRunner run of the whole pipeline, shared by the tests."""
  from pipeline import run_local  # pylint: disable=g-import-not-at-top
  return run_local.run(run_local.parse_config(flags))


CLUSTER_IMAGE = 'europe-west4-docker.pkg.dev/example-project/pipelines/arxiv-subject-areas:1.0'
VERTEX_ARGS = ['--image', CLUSTER_IMAGE, '--output-root', 'gs://example-bucket/arxiv',
               '--data', 'gs://example-bucket/data/*.csv.gz', '--beam-preset', 'dataflow',
               '--project', 'example-project', '--region', 'europe-west4',
               '--resources', 'Trainer=16,64']
KUBEFLOW_ARGS = ['--image', CLUSTER_IMAGE, '--output-root', 's3://example-bucket/arxiv',
                 '--data', 's3://example-bucket/data/arxiv_cs_{YYYY}-{MM}.csv.gz',
                 '--beam-preset', 'portable', '--job-endpoint', 'flink-jobserver:8099',
                 '--resources', 'Trainer=8,32']


@pytest.fixture(scope='session')
def vertex_spec(tmp_path_factory):
  """Path of the pipeline compiled through run_vertex's command line, offline."""
  from pipeline import run_vertex  # pylint: disable=g-import-not-at-top
  path = str(tmp_path_factory.mktemp('vertex') / 'pipeline.json')
  assert run_vertex.main(VERTEX_ARGS + ['--output', path]) == 0
  return path


@pytest.fixture(scope='session')
def kubeflow_spec(tmp_path_factory):
  """Path of the Kubeflow Pipelines package compiled through run_kubeflow's command line."""
  from pipeline import run_kubeflow  # pylint: disable=g-import-not-at-top
  path = str(tmp_path_factory.mktemp('kubeflow') / 'pipeline.yaml')
  assert run_kubeflow.main(KUBEFLOW_ARGS + ['--output', path]) == 0
  return path


@pytest.fixture
def browser(tmp_path):
  """Headless Chromium driven by ChromeDriver (Debian's packages), console logged."""
  from selenium import webdriver  # pylint: disable=g-import-not-at-top
  from selenium.webdriver.chrome.service import Service  # pylint: disable=g-import-not-at-top
  options = webdriver.ChromeOptions()
  options.binary_location = '/usr/bin/chromium'
  for flag in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
               '--disable-quic', '--no-first-run', '--disable-background-networking',
               '--disable-component-update', '--disable-sync', '--window-size=1280,2000',
               f'--user-data-dir={tmp_path / "chromium-profile"}'):
    options.add_argument(flag)
  options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
  driver = webdriver.Chrome(service=Service('/usr/bin/chromedriver'), options=options)
  driver.set_page_load_timeout(60)
  yield driver
  driver.quit()


@pytest.fixture
def tmp_csv(tmp_path):
  """Returns a function that writes rows to a CSV file in the test's directory."""
  def make(rows, name='data.csv', header=HEADER):
    return write_csv(os.path.join(tmp_path, name), rows, header)
  return make


# Serving test helpers

# Abstracts of two fields a trained model tells apart (computer vision, language), and
# one too short to judge.
VISION = ('We propose a convolutional neural network for semantic segmentation of images. '
          'Our detector localizes objects in video frames and improves image recognition.')
LANGUAGE = ('We fine-tune a large language model for machine translation and question '
            'answering. The model reads text in many languages and generates sentences.')
SHORT = 'We prove a new bound on primes in short intervals.'
# Long enough, but not the model's language.
GERMAN = ('Der Hund läuft schnell über die nasse Straße und bellt laut, weil die Katze oben auf '
          'dem alten Baum sitzt und nicht herunterkommen will, obwohl es seit Stunden regnet, '
          'der Wind kalt weht und die Nachbarn schon zweimal aus dem Fenster gerufen haben.')
# VISION in Chinese: written without spaces, so the tokenizer sees a few long tokens.
CHINESE = ('我们提出一种用于图像语义分割的卷积神经网络。我们的检测器能够在视频帧中定位物体，'
           '并提高图像识别的准确率。')
# Texts the model must suggest nothing for: {case: (abstract, the input warning it gets)}.
NO_EVIDENCE = {
    'empty': ('', 'too_short'),
    'one word': ('Segmentation', 'too_short'),
    'gibberish': ('zzzq xxqv', 'too_short'),
    'German': (GERMAN, 'unfamiliar'),  # Words with spaces, but mostly unknown ones.
    'Chinese': (CHINESE, 'unsupported_script'),
}
MODEL = 'arxiv-subject-areas'  # The model name the test servers serve under.
# Limits small enough for tests to pass them with small requests.
SERVING_LIMITS = dict(max_body_bytes=64 * 1024, max_abstract_chars=5_000, max_batch_size=8)


def serving_root_copy(first_run, directory) -> str:
  """A serving root under `directory` holding a copy of the version `first_run` pushed."""
  import shutil  # pylint: disable=g-import-not-at-top
  pushed = first_run['pushed_model_path']
  root = str(directory / 'serving_root')
  shutil.copytree(pushed, os.path.join(root, os.path.basename(pushed)))
  return root


def start_server(serving_root: str, **overrides):
  """A started PredictionServer on a free loopback port that looks for new versions often;
  `overrides` are ServerSettings fields."""
  from serving.server import PredictionServer, ServerSettings  # pylint: disable=g-import-not-at-top
  return PredictionServer(ServerSettings(
      serving_root=serving_root, model_name=MODEL, port=0,
      **{**SERVING_LIMITS, 'poll_seconds': 0.2, **overrides})).start()
