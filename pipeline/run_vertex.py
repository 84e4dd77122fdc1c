"""Compiles the pipeline for Vertex AI Pipelines (pipeline-spec 2.1 JSON).

Compiling is offline (see `kfp_spec`). With --submit it also starts a run on Vertex
AI, with the caching the compiler set per step (ExampleGen never cached).

    python pipeline/run_vertex.py --image REGION-docker.pkg.dev/PROJECT/REPO/arxiv:TAG \\
        --output-root gs://BUCKET/arxiv --data 'gs://BUCKET/data/*.csv.gz' \\
        --beam-preset dataflow --project PROJECT --region REGION
    python pipeline/run_vertex.py ... --submit      # compile, then run on Vertex AI
"""

import argparse
import sys
from typing import List, Optional

from pipeline import kfp_spec
from pipeline.config import PipelineConfig


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  kfp_spec.add_arguments(parser)
  parser.add_argument('--output', default='arxiv_subject_areas_pipeline.json',
                      help='where to write the compiled pipeline spec')
  parser.add_argument('--submit', action='store_true',
                      help='start a run on Vertex AI after compiling')
  parser.add_argument('--service-account', help='service account for the Vertex AI run')
  return parser.parse_args(argv)


def submit(spec_path: str, config: PipelineConfig, args: argparse.Namespace) -> None:
  from google.cloud import aiplatform  # pylint: disable=g-import-not-at-top
  if not (args.project and args.region):
    raise SystemExit('--submit needs --project and --region')
  aiplatform.init(project=args.project, location=args.region)
  # enable_caching unset: each step keeps the caching option it was compiled with.
  job = aiplatform.PipelineJob(display_name=config.pipeline_name, template_path=spec_path,
                               pipeline_root=config.pipeline_root)
  job.submit(service_account=args.service_account)
  print(f'submitted: {job.resource_name}')


def main(argv: Optional[List[str]] = None) -> int:
  args = parse_args(argv)
  config = kfp_spec.pipeline_config(args)
  spec = kfp_spec.compile_spec(config, args.image, resources=args.resources)
  kfp_spec.write(spec, args.output)
  tasks = sorted(spec['root']['dag']['tasks'])
  print(f'compiled {len(tasks)} tasks to {args.output}: {", ".join(tasks)}')
  if args.submit:
    submit(args.output, config, args)
  return 0


if __name__ == '__main__':
  sys.exit(main())
