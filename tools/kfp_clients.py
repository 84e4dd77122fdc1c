"""Runs inside .venv-clients (kfp 2.x, google-cloud-aiplatform), never in the project's
environment: what the real clients make of a compiled pipeline, printed as JSON for
tests/test_clients.py and `make kubeflow`.

    python tools/kfp_clients.py load-and-nest SPEC OUTER_YAML DATA_PATH
    python tools/kfp_clients.py vertex-job SPEC DATA_PATH
"""

import json
import sys


def load_and_nest(spec_path: str, outer_path: str, data_path: str) -> dict:
  """Loads the spec as a kfp component, runs it as one step of a pipeline with
  `data_path` passed in, and compiles that pipeline."""
  from kfp import compiler, components, dsl  # pylint: disable=g-import-not-at-top
  component = components.load_component_from_file(spec_path)

  @dsl.pipeline(name='outer')
  def outer(data: str = data_path):
    component(data_path=data)

  compiler.Compiler().compile(outer, outer_path)
  return {
      'name': component.name,
      'inputs': {name: spec.default for name, spec in component.component_spec.inputs.items()},
  }


def vertex_job(spec_path: str, data_path: str) -> dict:
  """Builds (never submits) a Vertex AI PipelineJob from the spec, overriding
  `data_path`; no credentials are needed to build one."""
  from google.auth import credentials  # pylint: disable=g-import-not-at-top
  from google.cloud import aiplatform  # pylint: disable=g-import-not-at-top
  job = aiplatform.PipelineJob(
      display_name='arxiv-subject-areas', template_path=spec_path,
      parameter_values={'data_path': data_path}, project='example-project',
      location='europe-west4', credentials=credentials.AnonymousCredentials())
  request = job.to_dict()  # What submit() would send.
  return {
      'parameter_values': request['runtimeConfig']['parameterValues'],
      'pipeline_root': request['runtimeConfig']['gcsOutputDirectory'],
      'tasks': sorted(request['pipelineSpec']['root']['dag']['tasks']),
  }


if __name__ == '__main__':
  command, *arguments = sys.argv[1:]
  check = {'load-and-nest': load_and_nest, 'vertex-job': vertex_job}[command]
  print(json.dumps(check(*arguments)))
