"""`make bench-scale`: the pipeline on synthetic data of growing size.

For each size, generates arXiv-like rows (`benchmarks.synthetic`, statistics of the
real data), then runs the pipeline in a child process, by default whole (Trainer and
Evaluator included; `--through Transform` stops after Transform), and reports each
component's wall time and peak memory (the process's RSS sampled while it runs), the
run's wall time and peak RSS, and how each grew against the rows.

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
import logging
import os
import subprocess
import threading
import time
from typing import Dict, List, Optional

from benchmarks import synthetic
from pipeline import definition
from pipeline.config import REPOSITORY_ROOT


class ComponentMemory(logging.Handler):
  """The peak RSS of this process while each component runs.

  Components run one after another in LocalDagRunner's process (Beam's DirectRunner
  and the Trainer too), so the runner's "Component X is running." records split the
  samples between them.
  """

  def __init__(self, interval_seconds: float = 0.2):
    super().__init__(logging.INFO)
    self.running: Optional[str] = None
    self.peaks: Dict[str, int] = {}
    self._interval = interval_seconds
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._sample, daemon=True)

  def emit(self, record: logging.LogRecord) -> None:
    if record.msg in ('Component %s is running.', 'Component %s is finished.') and record.args:
      self._record()
      self.running = str(record.args[0]) if 'running' in record.msg else None

  def start(self) -> 'ComponentMemory':
    self._thread.start()
    return self

  def stop(self) -> None:
    self._stop.set()
    self._thread.join()

  def _sample(self) -> None:
    while not self._stop.wait(self._interval):
      self._record()

  def _record(self) -> None:
    node = self.running
    if node is not None:
      with open('/proc/self/statm') as f:
        rss = int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') // (1 << 20)
      self.peaks[node] = max(self.peaks.get(node, 0), rss)


def measure(data: str, output_root: str, through: str, beam_args: List[str]) -> dict:
  """Runs the pipeline through `through` on `data` in a child process; times and memory."""
  started = time.monotonic()
  completed = subprocess.run(
      [sys.executable, '-m', 'benchmarks.scale', '--run-stages', data, output_root,
       '--through', through] + [f'--beam-arg={arg}' for arg in beam_args],
      check=True, capture_output=True, text=True)
  wall = time.monotonic() - started
  child = json.loads(completed.stdout.strip().splitlines()[-1])
  return {'wall_seconds': round(wall, 1), **child}


def run_stages(data: str, output_root: str, through: str, beam_args: List[str]) -> None:
  """In the child: the pipeline through `through`, then its figures as JSON."""
  import resource  # pylint: disable=g-import-not-at-top
  import dataclasses  # pylint: disable=g-import-not-at-top
  from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
  from tfx import v1 as tfx  # pylint: disable=g-import-not-at-top
  from tfx.orchestration import pipeline as tfx_pipeline  # pylint: disable=g-import-not-at-top
  from pipeline import run_summary  # pylint: disable=g-import-not-at-top
  from pipeline.config import PipelineConfig  # pylint: disable=g-import-not-at-top
  from pipeline.definition import create_pipeline  # pylint: disable=g-import-not-at-top

  config = dataclasses.replace(PipelineConfig(), data_path=data, output_root=output_root,
                               beam_pipeline_args=tuple(beam_args), enable_cache=False)
  absl_logging.set_verbosity(absl_logging.INFO)
  memory = ComponentMemory().start()
  logging.getLogger('absl').addHandler(memory)
  tfx.orchestration.LocalDagRunner().run(
      create_pipeline(config, config.metadata_connection_config()),
      run_options=tfx_pipeline.RunOptions(to_nodes=[through]))
  memory.stop()
  summary = run_summary.collect(config)
  peak = max(resource.getrusage(who).ru_maxrss
             for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
  print(json.dumps({
      'rows_read': summary['data']['rows_read'],
      'components': {node: c['wall_seconds'] for node, c in summary['components'].items()},
      'component_peak_rss_mib': memory.peaks,
      'peak_rss_mib': round(peak / 1024),
  }))


def scale_table(results: List[dict]) -> List[str]:
  """Markdown: each component's seconds and peak MiB per size, and how its time grew
  from the smallest size to the largest against the rows (1.0: linear)."""
  sizes = [result['rows'] for result in results]
  nodes = [node for node in results[-1]['components']
           if results[-1]['components'][node] is not None]
  lines = ['| component | ' + ' | '.join(f'{rows:,} rows: s / peak MiB' for rows in sizes) +
           ' | time growth ÷ row growth |',
           '|---|' + '---|' * (len(sizes) + 1)]

  def growth(first: Optional[float], last: Optional[float]) -> str:
    if len(sizes) < 2 or not first or last is None:
      return '–'
    return f'{(last / first) / (sizes[-1] / sizes[0]):.2f}'

  for node in nodes:
    cells = []
    for result in results:
      seconds = result['components'].get(node)
      memory = result['component_peak_rss_mib'].get(node)
      cells.append(f'{seconds if seconds is not None else "–"} / '
                   f'{f"{memory:,}" if memory else "–"}')
    lines.append(f'| {node} | ' + ' | '.join(cells) + ' | ' + growth(
        results[0]['components'].get(node), results[-1]['components'].get(node)) + ' |')
  lines.append('| whole run | ' + ' | '.join(
      f'{r["wall_seconds"]:,} / {r["peak_rss_mib"]:,}' for r in results) + ' | ' + growth(
          results[0]['wall_seconds'], results[-1]['wall_seconds']) + ' |')
  return lines


def main(argv: Optional[List[str]] = None) -> int:
  parser = console.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--rows', type=int, nargs='+', default=[100_000, 300_000, 1_000_000])
  parser.add_argument('--output-root',
                      default=os.path.join(REPOSITORY_ROOT, 'outputs', 'bench-scale'))
  parser.add_argument('--through', default=definition.PUSHER,
                      help='the last component to run (default: %(default)s, the whole '
                      'pipeline; Transform: what Beam alone does)')
  parser.add_argument('--beam-arg', action='append', default=[])
  parser.add_argument('--run-stages', nargs=2, metavar=('DATA', 'OUTPUT_ROOT'),
                      help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.run_stages:
    run_stages(*args.run_stages, args.through, args.beam_arg)
    return 0

  os.makedirs(args.output_root, exist_ok=True)
  statistics = synthetic.measure(synthetic.SAMPLE_DATA)
  path = os.path.join(args.output_root, 'scale.json')
  results = []
  for rows in args.rows:
    data = os.path.join(args.output_root, f'synthetic_{rows}.csv.gz')
    if not os.path.exists(data):
      synthetic.write_csv(data, synthetic.generate_rows(statistics, rows, seed=rows))
    result = {'rows': rows, **measure(data, os.path.join(args.output_root, f'run_{rows}'),
                                       args.through, args.beam_arg)}
    results.append(result)
    # Written after each size: a larger size may run for hours, or be stopped.
    with open(path, 'w') as f:
      json.dump(results, f, indent=2)
    print(f'{rows:,} rows: wall {result["wall_seconds"]:,} s '
          f'({rows / result["wall_seconds"]:,.0f} rows/s), peak RSS '
          f'{result["peak_rss_mib"]:,} MiB', flush=True)
  print()
  print('\n'.join(scale_table(results)))
  print(f'\nwritten to {path}')
  return 0


if __name__ == '__main__':
  sys.exit(console.run_tool(main, os.path.join(REPOSITORY_ROOT, 'outputs'), 'bench-scale'))
