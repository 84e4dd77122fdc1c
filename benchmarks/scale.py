"""`make bench-scale`: the pipeline on synthetic data of growing size.

For each size, generates arXiv-like rows (`benchmarks.synthetic`, statistics of the
real data), then runs the pipeline in a child process, by default whole (Trainer and
Evaluator included; `--through Transform` stops after Transform), and reports each
component's wall time and peak memory (the process's RSS sampled while it runs), the
run's wall time and peak RSS, and how each grew against the rows. A size whose run
fails (the kernel's out-of-memory killer, most likely) is reported with the component
it failed in and what that held. Results go to `scale.json`, merged with the sizes
measured before, so the largest can be rerun alone.

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
import signal
import subprocess
import threading
import time
from typing import Dict, List, Optional

from benchmarks import synthetic
from pipeline import definition
from pipeline.config import REPOSITORY_ROOT


class ComponentProgress(logging.Handler):
  """Each component's wall time and the peak RSS of this process while it runs.

  Components run one after another in LocalDagRunner's process (Beam's DirectRunner
  and the Trainer too), so the runner's "Component X is running." / "... finished."
  records split the time and the memory samples between them. The figures so far go
  to `progress_path` at each change of component and every few seconds: a run the
  kernel kills (out of memory) still says how far it got and what it held.
  """

  def __init__(self, progress_path: str, interval_seconds: float = 0.2,
               write_every: int = 10):
    super().__init__(logging.INFO)
    self.running: Optional[str] = None
    self.seconds: Dict[str, float] = {}
    self.peaks: Dict[str, int] = {}
    self._progress_path = progress_path
    self._started = 0.0
    self._interval = interval_seconds
    self._write_every = write_every
    self._lock = threading.Lock()
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._sample, daemon=True)

  def emit(self, record: logging.LogRecord) -> None:
    if record.msg in ('Component %s is running.', 'Component %s is finished.') and record.args:
      with self._lock:
        self._record()
        self.running = str(record.args[0]) if 'running' in record.msg else None
        self._started = time.monotonic()
        self.write()

  def start(self) -> 'ComponentProgress':
    self._thread.start()
    return self

  def stop(self) -> None:
    self._stop.set()
    self._thread.join()

  def figures(self) -> dict:
    return {'components': dict(self.seconds), 'component_peak_rss_mib': dict(self.peaks),
            'running': self.running}

  def write(self) -> None:
    with open(self._progress_path + '.tmp', 'w') as f:
      json.dump(self.figures(), f)
    os.replace(self._progress_path + '.tmp', self._progress_path)

  def _sample(self) -> None:
    samples = 0
    while not self._stop.wait(self._interval):
      samples += 1
      with self._lock:
        self._record()
        if samples % self._write_every == 0:
          self.write()

  def _record(self) -> None:
    node = self.running
    if node is not None:
      self.seconds[node] = round(time.monotonic() - self._started, 1)
      self.peaks[node] = max(self.peaks.get(node, 0), rss_mib())


def rss_mib() -> int:
  with open('/proc/self/statm') as f:
    return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') // (1 << 20)


def memory_total_mib() -> int:
  with open('/proc/meminfo') as f:
    return next(int(line.split()[1]) // 1024 for line in f if line.startswith('MemTotal:'))


def how_it_ended(returncode: int, peak_mib: int) -> str:
  """A failed child's end in words: a SIGKILL near all the machine's memory is the
  kernel's out-of-memory killer (the one signal a process cannot report itself)."""
  if returncode == -signal.SIGKILL and peak_mib >= 0.85 * memory_total_mib():
    return f'killed: out of memory ({memory_total_mib():,} MiB machine)'
  if returncode < 0:
    return f'killed by {signal.Signals(-returncode).name}'
  return f'failed (exit status {returncode})'


def measure(data: str, output_root: str, through: str, beam_args: List[str]) -> dict:
  """Runs the pipeline through `through` on `data` in a child process; times and
  memory, and where it stopped if it failed."""
  os.makedirs(output_root, exist_ok=True)
  progress_path = os.path.join(output_root, 'progress.json')
  if os.path.exists(progress_path):
    os.remove(progress_path)
  started = time.monotonic()
  completed = subprocess.run(
      [sys.executable, '-m', 'benchmarks.scale', '--run-stages', data, output_root,
       '--through', through] + [f'--beam-arg={arg}' for arg in beam_args],
      check=False, capture_output=True, text=True)
  wall = round(time.monotonic() - started, 1)
  if completed.returncode == 0:
    return {'wall_seconds': wall, **json.loads(completed.stdout.strip().splitlines()[-1])}
  with open(progress_path) as f:
    progress = json.load(f)
  peak = max(progress['component_peak_rss_mib'].values(), default=0)
  return {'wall_seconds': wall, 'peak_rss_mib': peak,
          'failed': {'component': progress.pop('running'),
                     'how': how_it_ended(completed.returncode, peak)}, **progress}


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
  progress = ComponentProgress(os.path.join(output_root, 'progress.json')).start()
  logging.getLogger('absl').addHandler(progress)
  tfx.orchestration.LocalDagRunner().run(
      create_pipeline(config, config.metadata_connection_config()),
      run_options=tfx_pipeline.RunOptions(to_nodes=[through]))
  progress.stop()
  peak = max(resource.getrusage(who).ru_maxrss
             for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
  figures = progress.figures()
  del figures['running']
  print(json.dumps({'rows_read': run_summary.collect(config)['data']['rows_read'], **figures,
                    'peak_rss_mib': round(peak / 1024)}))


def scale_table(results: List[dict]) -> List[str]:
  """Markdown: each component's seconds and peak MiB per size, and how its time grew
  against the rows (1.0: linear) from the smallest size to the largest it finished."""
  sizes = [result['rows'] for result in results]
  nodes = list(dict.fromkeys(node for result in results for node in result['components']))
  lines = ['| component | ' + ' | '.join(f'{rows:,} rows: s / peak MiB' for rows in sizes) +
           ' | time growth ÷ row growth |',
           '|---|' + '---|' * (len(sizes) + 1)]

  def finished(result: dict, node: str) -> bool:
    return node in result['components'] and result.get('failed', {}).get('component') != node

  def growth(seconds: List[Optional[float]]) -> str:
    done = [(rows, s) for rows, s in zip(sizes, seconds) if s]
    if len(done) < 2 or done[-1][0] == done[0][0]:
      return '–'
    return f'{(done[-1][1] / done[0][1]) / (done[-1][0] / done[0][0]):.2f}'

  for node in nodes:
    cells = []
    for result in results:
      seconds = result['components'].get(node)
      memory = result['component_peak_rss_mib'].get(node)
      cell = f'{seconds if seconds is not None else "–"} / {f"{memory:,}" if memory else "–"}'
      if result.get('failed', {}).get('component') == node:
        cell += f' {result["failed"]["how"]}'
      cells.append(cell)
    lines.append(f'| {node} | ' + ' | '.join(cells) + ' | ' + growth(
        [r['components'][node] if finished(r, node) else None for r in results]) + ' |')
  lines.append('| whole run | ' + ' | '.join(
      f'failed in {r["failed"]["component"]}' if 'failed' in r else
      f'{r["wall_seconds"]:,} / {r["peak_rss_mib"]:,}' for r in results) + ' | ' + growth(
          [None if 'failed' in r else r['wall_seconds'] for r in results]) + ' |')
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
  # Sizes measured before stay (each with its date) unless measured again: the
  # largest size may take hours, and is worth rerunning alone after a change.
  path = os.path.join(args.output_root, 'scale.json')
  results = {}
  if os.path.exists(path):
    with open(path) as f:
      results = {result['rows']: result for result in json.load(f)}
  for rows in args.rows:
    data = os.path.join(args.output_root, f'synthetic_{rows}.csv.gz')
    if not os.path.exists(data):
      synthetic.write_csv(data, synthetic.generate_rows(statistics, rows, seed=rows))
    result = {'rows': rows, 'measured': time.strftime('%Y-%m-%d %H:%M'),
              **measure(data, os.path.join(args.output_root, f'run_{rows}'), args.through,
                        args.beam_arg)}
    results[rows] = result
    with open(path, 'w') as f:
      json.dump([results[size] for size in sorted(results)], f, indent=2)
    if 'failed' in result:
      print(f'{rows:,} rows: {result["failed"]["component"]} {result["failed"]["how"]} '
            f'after {result["wall_seconds"]:,} s', flush=True)
    else:
      print(f'{rows:,} rows: wall {result["wall_seconds"]:,} s '
            f'({rows / result["wall_seconds"]:,.0f} rows/s), peak RSS '
            f'{result["peak_rss_mib"]:,} MiB', flush=True)
  print()
  print('\n'.join(scale_table([results[size] for size in sorted(results)])))
  print('\nmeasured ' + ', '.join(f'{size:,} rows {results[size].get("measured", "earlier")}'
                                   for size in sorted(results)))
  print(f'written to {path}')
  return 0


if __name__ == '__main__':
  sys.exit(console.run_tool(main, os.path.join(REPOSITORY_ROOT, 'outputs'), 'bench-scale'))
