"""Compiles the pipeline for Kubeflow Pipelines 2.x (open source, the v2 backend).

Writes a pipeline-spec 2.1 YAML to upload in the Kubeflow UI or with
`kfp.Client().upload_pipeline(...)` (kfp SDK 2.x, in an environment of its own: it
needs protobuf 4, this project pins 3). KFP's v2 backend runs no resolver nodes, so
this variant has none: the Evaluator blesses on the absolute micro-F1 threshold,
without comparing with the latest blessed model. ML Metadata is KFP's own.

    python pipeline/run_kubeflow.py --image REGISTRY/arxiv-subject-areas:TAG \\
        --output-root s3://BUCKET/arxiv --data 's3://BUCKET/data/*.csv.gz' \\
        --beam-preset portable --job-endpoint flink-jobserver:8099
"""

import argparse
import sys
from typing import List, Optional

from pipeline import kfp_spec


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  kfp_spec.add_arguments(parser)
  parser.add_argument('--output', default='arxiv_subject_areas_kfp.yaml',
                      help='where to write the pipeline spec to upload')
  return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
  args = parse_args(argv)
  spec = kfp_spec.compile_spec(kfp_spec.pipeline_config(args), args.image,
                               compare_with_latest_blessed=False, resources=args.resources)
  kfp_spec.write(spec, args.output)
  tasks = sorted(spec['root']['dag']['tasks'])
  print(f'compiled {len(tasks)} tasks to {args.output}: {", ".join(tasks)}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
