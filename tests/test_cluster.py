"""Beyond one machine: the compiled Vertex / Kubeflow pipeline, the image, Beam presets."""

import json
import os
import subprocess
import sys

import pytest

from pipeline import beam_presets
from pipeline import run_vertex
from pipeline.config import MysqlMetadata, PipelineConfig, REPOSITORY_ROOT
from pipeline.definition import RUNTIME_PARAMETERS, create_pipeline

IMAGE = 'europe-west4-docker.pkg.dev/example-project/pipelines/arxiv-subject-areas:1.0'
RESOLVER = 'latest_blessed_model_resolver'


@pytest.fixture(scope='module')
def compiled(tmp_path_factory):
  """The pipeline compiled through run_vertex's command line, offline."""
  output = str(tmp_path_factory.mktemp('kfp') / 'pipeline.json')
  args = run_vertex.parse_args([
      '--image', IMAGE, '--output-root', 'gs://example-bucket/arxiv',
      '--data', 'gs://example-bucket/data/*.csv.gz', '--output', output,
      '--beam-preset', 'dataflow', '--project', 'example-project', '--region',
      'europe-west4'])
  config = run_vertex.pipeline_config(args)
  spec = run_vertex.compile_pipeline(config, args.image, output)
  with open(output) as f:
    return spec, f.read(), config


def _upstream(task):
  """A task's upstream steps: its artifacts' producers and its control dependencies
  (Transform waits for DataGate without taking an artifact from it)."""
  producers = {a['taskOutputArtifact']['producerTask']
               for a in task.get('inputs', {}).get('artifacts', {}).values()
               if 'taskOutputArtifact' in a} | set(task.get('dependentTasks', []))
  return {p.split('-')[0] for p in producers}  # Resolver steps collapse to the resolver.


def test_every_component_is_compiled_with_the_local_pipelines_edges(compiled):
  spec, _, config = compiled
  tasks = spec['pipelineSpec']['root']['dag']['tasks']
  local = {component.id: {upstream.id for upstream in component.upstream_nodes}
           for component in create_pipeline(config).components}
  compiled_nodes = {name.split('-')[0] for name in tasks}
  assert compiled_nodes == set(local)
  for name, task in tasks.items():
    node = name.split('-')[0]
    if node != RESOLVER:
      assert _upstream(task) == local[node] - {RESOLVER} | (
          {RESOLVER} if RESOLVER in local[node] else set()), name


def test_every_step_runs_the_pipeline_image(compiled):
  spec, _, _ = compiled
  executors = spec['pipelineSpec']['deploymentSpec']['executors']
  images = {e['container']['image'] for e in executors.values() if 'container' in e}
  assert images == {IMAGE}


def test_runtime_parameters_with_the_configured_defaults(compiled):
  spec, _, config = compiled
  parameters = spec['pipelineSpec']['root']['inputDefinitions']['parameters']
  assert set(parameters) == set(RUNTIME_PARAMETERS)
  defaults = {name: value['stringValue']
              for name, value in spec['runtimeConfig']['parameters'].items()}
  assert defaults['data_path'] == 'gs://example-bucket/data/*.csv.gz'
  assert json.loads(defaults['trainer_settings'])['max_epochs'] == config.trainer.max_epochs
  metrics = [metric for spec in json.loads(defaults['eval_config'])['metricsSpecs']
             for metric in spec['metrics']]
  assert any('perSliceThresholds' in metric for metric in metrics)


def test_nothing_points_at_the_build_machine(compiled):
  _, text, _ = compiled
  assert REPOSITORY_ROOT not in text and os.getcwd() not in text
  assert '/pipeline/schema/schema.pbtxt' in text  # The schema inside the image.
  assert 'components.trainer.run_fn' in text  # Code by dotted path, no uploaded wheel.
  assert '--runner=DataflowRunner' in text and '--sdk_container_image=' + IMAGE in text
  assert 'gs://example-bucket/arxiv' in text


def test_dockerfile_passes_hadolint():
  hadolint = os.path.join(os.path.dirname(sys.executable), 'hadolint')
  completed = subprocess.run([hadolint, os.path.join(REPOSITORY_ROOT, 'Dockerfile')],
                             capture_output=True, text=True)
  assert completed.returncode == 0, completed.stdout + completed.stderr


def test_dockerfile_copies_everything_the_pipeline_imports():
  with open(os.path.join(REPOSITORY_ROOT, 'Dockerfile')) as f:
    dockerfile = f.read()
  for folder in ('components', 'pipeline', 'serving', 'schema'):
    assert f'COPY {folder}/ {folder}/' in dockerfile
  assert 'WORKDIR /pipeline' in dockerfile


@pytest.mark.parametrize('preset, missing', [
    ('dataflow', 'project, region, temp_location'),
    ('flink', 'master, temp_location'),
    ('spark', 'master, temp_location'),
])
def test_cluster_presets_name_what_they_lack(preset, missing):
  with pytest.raises(ValueError, match=f'needs {missing}'):
    beam_presets.beam_args(preset)


def test_presets():
  assert beam_presets.beam_args('direct') == ()
  assert '--direct_running_mode=multi_processing' in beam_presets.beam_args(
      'direct-multiprocessing')
  flink = beam_presets.beam_args('flink', master='flink:8081', temp_location='gs://b/tmp')
  assert '--runner=FlinkRunner' in flink and '--environment_type=EXTERNAL' in flink
  spark = beam_presets.beam_args('spark', master='spark://m:7077', temp_location='gs://b/tmp')
  assert '--spark_master_url=spark://m:7077' in spark
  with pytest.raises(ValueError, match='unknown Beam preset'):
    beam_presets.beam_args('nope')


def test_metadata_is_sqlite_locally_and_mysql_on_a_cluster(monkeypatch):
  local = PipelineConfig(output_root='/tmp/out').metadata_connection_config()
  assert local.sqlite.filename_uri.endswith('metadata.db')
  monkeypatch.setenv('MLMD_MYSQL_PASSWORD', 'secret')
  cluster = PipelineConfig(mysql_metadata=MysqlMetadata(
      host='mysql.kubeflow', database='mlmd', user='tfx')).metadata_connection_config()
  assert (cluster.mysql.host, cluster.mysql.port, cluster.mysql.database,
          cluster.mysql.user, cluster.mysql.password) == (
              'mysql.kubeflow', 3306, 'mlmd', 'tfx', 'secret')
