"""The pipeline's configuration: one typed place for every setting.

Runners build a `PipelineConfig` (from flags, or the defaults below) and pass it to
`pipeline.definition.create_pipeline`.
"""

import dataclasses
import os
from typing import Optional, Tuple

from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from components import paths, settings
from components.paths import DEFAULT_OUTPUT_ROOT, REPOSITORY_ROOT

# One file to split at random: the reference's recipe.
SAMPLE_DATA = os.path.join(REPOSITORY_ROOT, 'data', 'arxiv_sample.csv.gz')
# One file per arXiv month, as data arrives in production (250 papers each).
MONTHLY_SAMPLE = os.path.join(REPOSITORY_ROOT, 'data', 'monthly',
                              'arxiv_sample_{YYYY}-{MM}.csv.gz')
SCHEMA_PATH = os.path.join(REPOSITORY_ROOT, 'schema', 'schema.pbtxt')

# Where the Dockerfile puts the repository inside the pipeline image.
IMAGE_REPOSITORY_ROOT = '/pipeline'

# Component functions, referenced by dotted path so nothing is packaged at run time.
PREPROCESSING_FN = 'components.preprocessing.preprocessing_fn'
RUN_FN = 'components.trainer.run_fn'


@dataclasses.dataclass(frozen=True)
class MysqlMetadata:
  """A shared MySQL ML Metadata store, for runs on a cluster (the password comes from
  the environment variable named by `password_env`, never from a file or a flag)."""
  host: str
  database: str
  user: str
  port: int = 3306
  password_env: str = 'MLMD_MYSQL_PASSWORD'

  def password(self) -> str:
    """The password from `$password_env`; unset is an error, not an empty password."""
    password = os.environ.get(self.password_env)
    if password is None:
      raise ValueError(f'${self.password_env} is not set: the MySQL ML Metadata store at '
                       f'{self.host} needs its password there')
    return password


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
  pipeline_name: str = paths.PIPELINE_NAME
  # A span pattern ({YYYY}-{MM} or {SPAN}: split by time, the newest span is test), or
  # a CSV file or glob (split at random); .csv and .csv.gz.
  data_path: str = MONTHLY_SAMPLE
  output_root: str = DEFAULT_OUTPUT_ROOT
  schema_path: str = SCHEMA_PATH

  # ExampleGen with spans: the window is the newest `window_spans` spans (0: all) up
  # to `last_span` ('': the newest there is, else e.g. '2026-04'). The last span is
  # test; `eval_month_fraction` of the one before it (stratified) is eval.
  last_span: str = ''
  window_spans: int = 0
  eval_month_fraction: float = 0.5
  # ExampleGen on one data set: the reference's random split, stratified on the
  # label combination.
  seed: int = 42
  eval_fraction: float = 0.05
  test_fraction: float = 0.05
  min_combination_count: int = 2  # The reference drops combinations seen once.

  # DataGate, before Transform: schema anomalies or drift of test from train either
  # 'stop' the run or 'warn' (reported, the run goes on). The label drift threshold
  # is the curated schema's; abstract length's and vocabulary's are here, above what
  # each month of the full data shows against the months before it
  # (docs/monthly.md), and the DataGate component has no defaults of its own.
  on_data_problem: str = 'warn'
  max_length_divergence: float = 0.02
  max_vocabulary_divergence: float = 0.02

  transform: settings.TransformSettings = settings.TransformSettings()
  trainer: settings.TrainerSettings = settings.TrainerSettings()

  # Evaluator: blessing on test micro-F1, and no regression against the last blessed;
  # with `beat_label_priors`, also only above the label-priors baseline on micro-F1
  # and precision@1 (components/evaluation.py). Off for toy runs whose few test
  # papers cannot show a lift.
  min_micro_f1: float = 0.5
  max_micro_f1_regression: float = 0.01
  beat_label_priors: bool = True

  # Where Beam runs: see pipeline/beam_presets.py.
  beam_pipeline_args: Tuple[str, ...] = ()
  enable_cache: bool = True
  # LocalDagRunner: run only this component and those it depends on (a TFX partial
  # run); '' runs them all.
  stop_after: str = ''
  # ML Metadata: SQLite under output_root unless a MySQL store is given.
  mysql_metadata: Optional[MysqlMetadata] = None

  def __post_init__(self):
    settings.check(self, 'window_spans', self.window_spans >= 0, 'at least 0')
    settings.check(self, 'eval_month_fraction', 0 < self.eval_month_fraction < 1, 'in (0, 1)')
    for fraction in ('eval_fraction', 'test_fraction'):
      settings.check(self, fraction, 0 < getattr(self, fraction) < 0.5, 'in (0, 0.5)')
    settings.check(self, 'on_data_problem', self.on_data_problem in ('warn', 'stop'),
                   "'warn' or 'stop'")
    for divergence in ('max_length_divergence', 'max_vocabulary_divergence'):
      settings.check(self, divergence, 0 <= getattr(self, divergence) <= 1, 'in [0, 1]')

  @property
  def pipeline_root(self) -> str:
    return os.path.join(self.output_root, 'pipeline', self.pipeline_name)

  @property
  def metadata_path(self) -> str:
    return os.path.join(self.output_root, 'metadata', self.pipeline_name, 'metadata.db')

  def metadata_connection_config(self) -> metadata_store_pb2.ConnectionConfig:
    if self.mysql_metadata is None:
      return tfx.orchestration.metadata.sqlite_metadata_connection_config(self.metadata_path)
    mysql = self.mysql_metadata
    return tfx.orchestration.metadata.mysql_metadata_connection_config(
        host=mysql.host, port=mysql.port, database=mysql.database, username=mysql.user,
        password=mysql.password())

  @property
  def serving_model_dir(self) -> str:
    return paths.serving_root(self.output_root, self.pipeline_name)
