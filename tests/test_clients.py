"""The compiled pipelines as the real clients see them: the kfp 2.x SDK and
google-cloud-aiplatform, in .venv-clients (tools/ensure_client_venv.sh creates it:
they need protobuf >= 4, which TFX 1.16 cannot share)."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from pipeline.config import REPOSITORY_ROOT
from pipeline.definition import RUNTIME_PARAMETERS

NEW_DATA = 'gs://example-bucket/next-month/arxiv_cs_{YYYY}-{MM}.csv.gz'


@pytest.fixture(scope='module')
def client_python():
  """The interpreter of .venv-clients, created or updated first."""
  subprocess.run([os.path.join(REPOSITORY_ROOT, 'tools', 'ensure_client_venv.sh')],
                 env={**os.environ, 'PYTHON': sys._base_executable},  # pylint: disable=protected-access
                 check=True)
  return os.path.join(REPOSITORY_ROOT, '.venv-clients', 'bin', 'python')


def client_check(client_python, *arguments):
  completed = subprocess.run(
      [client_python, os.path.join(REPOSITORY_ROOT, 'tools', 'kfp_clients.py'), *arguments],
      capture_output=True, text=True)
  assert completed.returncode == 0, completed.stderr[-3000:]
  return json.loads(completed.stdout)


@pytest.mark.parametrize('target', ['vertex_spec', 'kubeflow_spec'])
def test_the_kfp_sdk_loads_the_spec_and_nests_it_in_a_pipeline(
    target, client_python, request, tmp_path):
  outer = str(tmp_path / 'outer.yaml')
  loaded = client_check(client_python, 'load-and-nest', request.getfixturevalue(target),
                        outer, NEW_DATA)
  assert loaded['name'] == 'arxiv-subject-areas'
  assert set(loaded['inputs']) == set(RUNTIME_PARAMETERS)
  assert all(loaded['inputs'].values())  # Every parameter has its default.
  with open(outer) as f:
    nested = yaml.safe_load(f)
  # The whole pipeline is one task of the outer one, its data_path wired through.
  (task,) = nested['root']['dag']['tasks'].values()
  assert task['inputs']['parameters']['data_path'] == {'componentInputParameter': 'data'}
  assert nested['root']['inputDefinitions']['parameters']['data']['defaultValue'] == NEW_DATA


def test_vertex_ai_builds_a_pipeline_job_with_overridden_parameters(client_python,
                                                                     vertex_spec):
  job = client_check(client_python, 'vertex-job', vertex_spec, NEW_DATA)
  assert job['parameter_values'] == {'data_path': NEW_DATA}
  assert job['pipeline_root'] == 'gs://example-bucket/arxiv/pipeline/arxiv-subject-areas'
  assert 'ArxivExampleGen' in job['tasks'] and 'Pusher' in job['tasks']
