"""Compiles the pipeline for Vertex AI Pipelines / Kubeflow Pipelines (KFP v2 spec).

Compiling is offline: it writes a pipeline-spec JSON that references the pipeline
image (see the Dockerfile) and takes `data_path`, `trainer_settings` and `eval_config`
as runtime parameters. With --submit it also starts a run on Vertex AI.

    python pipeline/run_vertex.py --image REGION-docker.pkg.dev/PROJECT/REPO/arxiv:TAG \\
        --output-root gs://BUCKET/arxiv --data 'gs://BUCKET/data/*.csv.gz' \\
        --beam-preset dataflow --project PROJECT --region REGION
    python pipeline/run_vertex.py ... --submit      # compile, then run on Vertex AI
"""

import argparse
import dataclasses
import json
import os
import sys
from typing import List, Optional

from tfx import v1 as tfx

from pipeline import beam_presets
from pipeline.config import IMAGE_REPOSITORY_ROOT, PipelineConfig
from pipeline.definition import create_pipeline, runtime_parameter_defaults


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--image', required=True,
                      help='the pipeline image (built from the Dockerfile), with its tag')
  parser.add_argument('--output-root', required=True,
                      help='gs:// root for pipeline artifacts and pushed models')
  parser.add_argument('--data', required=True,
                      help='default of the data_path runtime parameter (a gs:// CSV glob)')
  parser.add_argument('--output', default='arxiv_subject_areas_pipeline.json',
                      help='where to write the compiled pipeline spec')
  parser.add_argument('--beam-preset', default='direct', choices=beam_presets.PRESETS,
                      help='where the Beam components run (see pipeline/beam_presets.py)')
  parser.add_argument('--project', help='Google Cloud project (Dataflow, --submit)')
  parser.add_argument('--region', help='Google Cloud region (Dataflow, --submit)')
  parser.add_argument('--beam-temp', help='gs:// temp location for Beam (default: under '
                      '--output-root)')
  parser.add_argument('--beam-master', help='Flink master or Spark master URL')
  parser.add_argument('--submit', action='store_true',
                      help='start a run on Vertex AI after compiling')
  parser.add_argument('--service-account', help='service account for the Vertex AI run')
  return parser.parse_args(argv)


def pipeline_config(args: argparse.Namespace) -> PipelineConfig:
  """The cluster configuration: data and outputs on GCS, code and schema in the image."""
  beam_temp = args.beam_temp or f'{args.output_root.rstrip("/")}/beam-tmp'
  return dataclasses.replace(
      PipelineConfig(),
      data_path=args.data,
      output_root=args.output_root,
      schema_path=os.path.join(IMAGE_REPOSITORY_ROOT, 'schema', 'schema.pbtxt'),
      beam_pipeline_args=beam_presets.beam_args(
          args.beam_preset, project=args.project, region=args.region,
          temp_location=beam_temp, master=args.beam_master, worker_image=args.image))


def compile_pipeline(config: PipelineConfig, image: str, output: str) -> dict:
  """Writes the KFP v2 pipeline spec to `output`; returns it as a dict."""
  runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
      config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=image),
      output_dir=os.path.dirname(os.path.abspath(output)),
      output_filename=os.path.basename(output))
  # Vertex AI keeps ML Metadata itself: no connection config here.
  runner.run(create_pipeline(config, runtime_parameters=True),
             parameter_values=runtime_parameter_defaults(config))
  with open(output) as f:
    return json.load(f)


def submit(spec_path: str, config: PipelineConfig, args: argparse.Namespace) -> None:
  from google.cloud import aiplatform  # pylint: disable=g-import-not-at-top
  if not (args.project and args.region):
    raise SystemExit('--submit needs --project and --region')
  aiplatform.init(project=args.project, location=args.region)
  job = aiplatform.PipelineJob(display_name=config.pipeline_name, template_path=spec_path,
                               pipeline_root=config.pipeline_root, enable_caching=True)
  job.submit(service_account=args.service_account)
  print(f'submitted: {job.resource_name}')


def main(argv: Optional[List[str]] = None) -> int:
  args = parse_args(argv)
  config = pipeline_config(args)
  spec = compile_pipeline(config, args.image, args.output)
  tasks = sorted(spec['pipelineSpec']['root']['dag']['tasks'])
  print(f'compiled {len(tasks)} tasks to {args.output}: {", ".join(tasks)}')
  if args.submit:
    submit(args.output, config, args)
  return 0


if __name__ == '__main__':
  sys.exit(main())
