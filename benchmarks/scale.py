"""`make bench-scale`: ExampleGen + Transform on synthetic data of growing size.

For each size, generates arXiv-like rows (`benchmarks.synthetic`, statistics of the
real data), then runs the pipeline's ArxivExampleGen and Transform alone in a child
process, and reports wall time, peak memory (RSS of the process tree) and rows per
second. Wall time should grow about linearly and memory stay flat: Beam streams.

    python -m benchmarks.scale --rows 100000 300000 1000000
"""

import sys

from pipeline import console

if __name__ == '__main__' and '--run-stages' not in sys.argv:
  # TensorFlow's and Beam's notices go to a log under outputs/logs; the figures to the
  # terminal.
  console.divert_output(verbose=False, keep_prints=True)

# pylint: disable=g-import-not-at-top,wrong-import-position
import argparse
import json
import os
import subprocess
import time
from typing import List, Optional

from benchmarks import synthetic
from pipeline import definition
from pipeline.config import REPOSITORY_ROOT


def measure(data: str, output_root: str, beam_args: List[str]) -> dict:
  """Runs ExampleGen + Transform on `data` in a child process; wall time and peak RSS."""
  started = time.monotonic()
  completed = subprocess.run(
      [sys.executable, '-m', 'benchmarks.scale', '--run-stages', data, output_root] +
      [f'--beam-arg={arg}' for arg in beam_args],
      check=True, capture_output=True, text=True)
  wall = time.monotonic() - started
  child = json.loads(completed.stdout.strip().splitlines()[-1])
  return {'wall_seconds': round(wall, 1), **child}


def run_stages(data: str, output_root: str, beam_args: List[str]) -> None:
  """In the child: the pipeline cut after Transform, then its own peak RSS as JSON."""
  import resource  # pylint: disable=g-import-not-at-top
  import dataclasses  # pylint: disable=g-import-not-at-top
  from tfx import v1 as tfx  # pylint: disable=g-import-not-at-top
  from tfx.orchestration import pipeline as tfx_pipeline  # pylint: disable=g-import-not-at-top
  from pipeline import run_summary  # pylint: disable=g-import-not-at-top
  from pipeline.config import PipelineConfig  # pylint: disable=g-import-not-at-top
  from pipeline.definition import create_pipeline  # pylint: disable=g-import-not-at-top

  config = dataclasses.replace(PipelineConfig(), data_path=data, output_root=output_root,
                               beam_pipeline_args=tuple(beam_args), enable_cache=False)
  # A partial run up to Transform: ExampleGen, the schema and Transform, what scales
  # with the rows.
  tfx.orchestration.LocalDagRunner().run(
      create_pipeline(config, config.metadata_connection_config()),
      run_options=tfx_pipeline.RunOptions(to_nodes=[definition.TRANSFORM]))
  summary = run_summary.collect(config)
  peak = max(resource.getrusage(who).ru_maxrss
             for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
  print(json.dumps({
      'rows_read': summary['data']['rows_read'],
      'components': {node: c['wall_seconds'] for node, c in summary['components'].items()},
      'peak_rss_mib': round(peak / 1024),
  }))


def main(argv: Optional[List[str]] = None) -> int:
  parser = console.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--rows', type=int, nargs='+', default=[100_000, 300_000, 1_000_000])
  parser.add_argument('--output-root',
                      default=os.path.join(REPOSITORY_ROOT, 'outputs', 'bench-scale'))
  parser.add_argument('--beam-arg', action='append', default=[])
  parser.add_argument('--run-stages', nargs=2, metavar=('DATA', 'OUTPUT_ROOT'),
                      help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.run_stages:
    run_stages(*args.run_stages, args.beam_arg)
    return 0

  os.makedirs(args.output_root, exist_ok=True)
  statistics = synthetic.measure(synthetic.SAMPLE_DATA)
  results = []
  print('| rows | ExampleGen s | Transform s | wall s | rows/s | peak RSS MiB |')
  print('|---|---|---|---|---|---|')
  for rows in args.rows:
    data = os.path.join(args.output_root, f'synthetic_{rows}.csv.gz')
    if not os.path.exists(data):
      synthetic.write_csv(data, synthetic.generate_rows(statistics, rows, seed=rows))
    result = {'rows': rows, **measure(data, os.path.join(args.output_root, f'run_{rows}'),
                                       args.beam_arg)}
    results.append(result)
    print(f'| {rows:,} | {result["components"].get(definition.EXAMPLE_GEN)} | '
          f'{result["components"].get(definition.TRANSFORM)} | {result["wall_seconds"]} | '
          f'{rows / result["wall_seconds"]:,.0f} | {result["peak_rss_mib"]:,} |', flush=True)
  path = os.path.join(args.output_root, 'scale.json')
  with open(path, 'w') as f:
    json.dump(results, f, indent=2)
  print(f'\nwritten to {path}')
  return 0


if __name__ == '__main__':
  sys.exit(console.run_tool(main, os.path.join(REPOSITORY_ROOT, 'outputs'), 'bench-scale'))
