"""The pipeline compiled to KFP's pipeline-spec schema 2.1, for Vertex AI Pipelines
and Kubeflow Pipelines' v2 backend.

Compiled offline by TFX's KubeflowV2DagRunner: every step runs the pipeline image
(see the Dockerfile) and takes `data_path`, `trainer_settings` and `eval_config` as
runtime parameters. What is written is a PipelineSpec, the format the kfp SDK's
compiler writes, that both Vertex AI and a KFP server take: the parameters'
defaults and the pipeline root are inside it. `run_vertex.py` and
`run_kubeflow.py` are the command lines.
"""

import argparse
import dataclasses
import json
import os
from typing import Any, Dict, List, Mapping, Optional, Tuple

from kfp.pipeline_spec import pipeline_spec_pb2
from tfx import v1 as tfx
import yaml

from pipeline import beam_presets
from pipeline.config import IMAGE_REPOSITORY_ROOT, PipelineConfig
from pipeline import definition


def add_arguments(parser: argparse.ArgumentParser) -> None:
  """The command-line arguments both targets take."""
  parser.add_argument('--image', required=True,
                      help='the pipeline image (built from the Dockerfile), with its tag')
  parser.add_argument('--output-root', required=True,
                      help='root for pipeline artifacts and pushed models (gs://, s3://, ...)')
  parser.add_argument('--data', required=True,
                      help='default of the data_path runtime parameter (a CSV glob or a '
                      'monthly span pattern on storage every step can read)')
  parser.add_argument('--beam-preset', default='direct', choices=beam_presets.PRESETS,
                      help='where the Beam components run (see pipeline/beam_presets.py)')
  parser.add_argument('--project', help='Google Cloud project (Dataflow, --submit)')
  parser.add_argument('--region', help='Google Cloud region (Dataflow, --submit)')
  parser.add_argument('--beam-temp', help='temp location for Beam (default: under '
                      '--output-root)')
  parser.add_argument('--job-endpoint',
                      help='Beam job service of a Flink or Spark cluster (host:port)')
  parser.add_argument('--resources', action='append', default=[], type=step_resources,
                      metavar='STEP=CPUS,MEMORY_GB',
                      help='the vCPUs and memory (GB) a step\'s container gets, e.g. '
                      'Trainer=16,64 (repeatable; steps not named get the platform\'s '
                      'default machine). docs/quality.md says which steps outgrow it when')


def step_resources(text: str) -> Tuple[str, float, float]:
  """'Trainer=16,64' -> ('Trainer', 16.0, 64.0): a step's vCPU and memory (GB) limits."""
  step, _, amounts = text.partition('=')
  try:
    cpus, memory_gb = (float(amount) for amount in amounts.split(','))
  except ValueError:
    raise argparse.ArgumentTypeError(
        f'{text!r}: expected STEP=CPUS,MEMORY_GB, e.g. Trainer=16,64') from None
  if not step or cpus <= 0 or memory_gb <= 0:
    raise argparse.ArgumentTypeError(
        f'{text!r}: a step name, and vCPUs and memory above 0, e.g. Trainer=16,64')
  return step, cpus, memory_gb


def pipeline_config(args: argparse.Namespace) -> PipelineConfig:
  """The cluster configuration: data and outputs on shared storage, code and schema in
  the image."""
  beam_temp = args.beam_temp or f'{args.output_root.rstrip("/")}/beam-tmp'
  return dataclasses.replace(
      PipelineConfig(),
      data_path=args.data,
      output_root=args.output_root,
      schema_path=os.path.join(IMAGE_REPOSITORY_ROOT, 'schema', 'schema.pbtxt'),
      beam_pipeline_args=beam_presets.beam_args(
          args.beam_preset, project=args.project, region=args.region,
          temp_location=beam_temp, job_endpoint=args.job_endpoint,
          worker_image=args.image))


def compile_spec(config: PipelineConfig, image: str,
                 compare_with_latest_blessed: bool = True,
                 resources: Optional[List[Tuple[str, float, float]]] = None) -> Dict[str, Any]:
  """The PipelineSpec (schema 2.1) as a dict, its ExampleGen step never cached, and
  the steps named in `resources` (`step_resources`' triples) on machines that size."""
  runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
      config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
          default_image=image, use_pipeline_spec_2_1=True))
  pipeline = definition.create_pipeline(
      config, runtime_parameters=True, compare_with_latest_blessed=compare_with_latest_blessed)
  size_steps(pipeline, {step: (cpus, memory_gb) for step, cpus, memory_gb in resources or ()})
  # The orchestrator keeps ML Metadata itself: no connection config here.
  job = runner.run(pipeline, parameter_values=definition.runtime_parameter_defaults(config),
                   write_out=False)
  spec = job['pipelineSpec']
  never_cache_input(spec)
  # TFX puts these into the PipelineJob around the spec; a spec carries them itself.
  for name, value in job['runtimeConfig']['parameterValues'].items():
    spec['root']['inputDefinitions']['parameters'][name]['defaultValue'] = value
  spec['defaultPipelineRoot'] = job['runtimeConfig']['gcsOutputDirectory']
  return spec


def size_steps(pipeline: tfx.dsl.Pipeline,
               resources: Mapping[str, Tuple[float, float]]) -> None:
  """Sets the container limits (vCPUs, memory in GB) of the steps in `resources`.

  Vertex AI runs such a step on a machine that has them, a Kubernetes cluster
  schedules its pod with them. The Trainer runs in its step's container (TensorFlow
  uses every core it is given); the Beam steps on Dataflow need only a small one.
  """
  steps = {component.id: component for component in pipeline.components}
  unknown = sorted(set(resources) - set(steps))
  if unknown:
    raise ValueError(f'--resources names no step of the pipeline: {", ".join(unknown)} '
                     f'(the steps: {", ".join(steps)})')
  for step, (cpus, memory_gb) in resources.items():
    steps[step].with_platform_config(
        pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec(
            cpu_limit=cpus, memory_limit=memory_gb))


def never_cache_input(spec: Dict[str, Any]) -> None:
  """Turns off the cache of the step that reads the data.

  On Vertex AI and KFP a step's cache key is its inputs and parameters. ExampleGen
  has no input artifacts, and its parameter is the glob, not the files: with the
  cache on, new files under the same glob would hit the cache and every later step
  would reuse the old examples and model. Locally the component's driver adds the
  files' fingerprint to the key, but the compiler runs custom drivers for TFX's own
  FileBasedExampleGen only. Uncached, ExampleGen reads the files on every run; the
  steps after it then get new artifacts and run too (their cache stays on, as
  compiled, and serves reruns of a failed run).
  """
  task = spec['root']['dag']['tasks'][definition.EXAMPLE_GEN]
  task['cachingOptions'] = {'enableCache': False}


def write(document: Dict[str, Any], path: str) -> None:
  """Writes JSON, or YAML when the name ends in .yaml / .yml."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, 'w') as f:
    if path.endswith(('.yaml', '.yml')):
      yaml.safe_dump(document, f, sort_keys=False)
    else:
      json.dump(document, f, indent=2, sort_keys=True)
