"""Runs the pipeline on this machine with TFX's LocalDagRunner.

    python pipeline/run_local.py                      # the bundled sample
    python pipeline/run_local.py --data '../shared/data/*.csv.gz' --output-root /tmp/full

It shows a line per component as it ends, then a summary; it writes
<output root>/run_summary.json, the evaluation report (<output root>/reports/<run
id>/report.html and report.md) and, unless --verbose, everything else the libraries
print to <output root>/logs/<run id>.log.
"""

import sys

from pipeline import console

if __name__ == '__main__':
  # Before TensorFlow, Beam and Google's libraries load: their import-time notices
  # belong in the run's log, not on the terminal.
  console.divert_output(verbose='--verbose' in sys.argv[1:])

# pylint: disable=g-import-not-at-top,wrong-import-position
import dataclasses
import datetime
import os
import re
import resource
import time
import traceback
from typing import List, Optional

from absl import logging
from rich.markup import escape
from tfx import v1 as tfx
from tfx.orchestration import pipeline as tfx_pipeline

from components import errors
from pipeline import beam_presets
from pipeline import definition
from pipeline import report
from pipeline import run_summary
from pipeline.config import MysqlMetadata, PipelineConfig
from pipeline.definition import create_pipeline

# Dataflow reads and writes shared storage, not this machine's paths.
LOCAL_PRESETS = ('direct', 'direct-multiprocessing', 'portable')


def parse_config(argv: Optional[List[str]] = None) -> PipelineConfig:
  """Builds the run's PipelineConfig from command-line flags over the defaults."""
  defaults = PipelineConfig()
  parser = console.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--data', default=defaults.data_path,
                      help='monthly files as a span pattern, e.g. '
                      "'../shared/data/monthly/arxiv_cs_{YYYY}-{MM}.csv.gz' (split by time), "
                      'or one CSV file or glob (split at random); .csv or .csv.gz; '
                      'default: the bundled monthly sample')
  parser.add_argument('--last-span', default=defaults.last_span,
                      help='with spans: the test month, e.g. 2026-04 (default: the newest)')
  parser.add_argument('--window-spans', type=int, default=defaults.window_spans,
                      help='with spans: how many spans up to the test month to read (0: all)')
  parser.add_argument('--on-data-problem', default=defaults.on_data_problem,
                      choices=('warn', 'stop'),
                      help='schema anomalies or drift of the test split: stop the run '
                      'before Transform, or warn')
  parser.add_argument('--output-root', default=defaults.output_root,
                      help='where pipeline artifacts, metadata and pushed models go')
  parser.add_argument('--epochs', type=int, default=defaults.trainer.max_epochs,
                      help='maximum training epochs (early stopping may end sooner)')
  parser.add_argument('--batch-size', type=int, default=defaults.trainer.batch_size,
                      help='largest training batch; smaller data gets smaller batches '
                      '(see TrainerSettings.train_batch_size)')
  parser.add_argument('--ensemble-members', type=int,
                      default=defaults.trainer.ensemble_members,
                      help='models trained from seeds --training-seed, +1, ... and averaged '
                      'in the exported model')
  parser.add_argument('--linear-weight', type=float, default=defaults.trainer.linear_weight,
                      help='weight of a linear TF-IDF model in that average, for most labels')
  parser.add_argument('--linear-rare-label-weight', type=float,
                      default=defaults.trainer.linear_rare_label_weight,
                      help='its weight for the labels rarer in train than '
                      f'{defaults.trainer.rare_label_frequency:.0%}% (both 0: no linear model)')
  parser.add_argument('--recency-half-life-months', type=float,
                      default=defaults.trainer.recency_half_life_months,
                      help='with monthly spans: a training paper k months older than the '
                      'newest training month weighs 0.5 ** (k / this) in the loss (0: all '
                      'alike)')
  parser.add_argument('--max-vocabulary-size', type=int,
                      default=defaults.transform.max_vocabulary_size,
                      help='cap on the unigram + bigram vocabulary')
  parser.add_argument('--min-label-count', type=int,
                      default=defaults.transform.min_label_count,
                      help='labels seen fewer times in train are not predicted')
  parser.add_argument('--min-micro-f1', type=float, default=defaults.min_micro_f1,
                      help='test micro-F1 a model needs to be blessed and pushed')
  parser.add_argument('--no-priors-check', action='store_true',
                      help='bless without beating the label-priors baseline on micro-F1 and '
                      'precision@1 (for toy runs whose few test papers cannot show it)')
  parser.add_argument('--seed', type=int, default=defaults.seed,
                      help='fixes the split and, unless --training-seed is given, the '
                      'initial weights and the shuffle')
  parser.add_argument('--training-seed', type=int,
                      help='the Trainer\'s seed alone (default: --seed): another training '
                      'of the same split, its Transform output reused')
  parser.add_argument('--beam-preset', default='direct', choices=LOCAL_PRESETS,
                      help='direct: Beam in this process; direct-multiprocessing: one '
                      'worker process per core; portable: a Beam job service '
                      '(--job-endpoint) and worker pool (--worker-pool)')
  parser.add_argument('--job-endpoint', help='the portable preset\'s job service, host:port')
  parser.add_argument('--worker-pool', default=beam_presets.DEFAULT_WORKER_POOL,
                      help='the portable preset\'s Beam worker pool, host:port')
  parser.add_argument('--beam-arg', action='append', default=[],
                      help='an extra Beam pipeline argument, e.g. --beam-arg=--direct_num_workers=2')
  parser.add_argument('--mysql', metavar='USER@HOST[:PORT]/DATABASE',
                      help='a MySQL ML Metadata store instead of SQLite under the output root '
                      '(password from $MLMD_MYSQL_PASSWORD)')
  parser.add_argument('--stop-after', metavar='COMPONENT', default=defaults.stop_after,
                      help='run only COMPONENT and the components it needs (a TFX partial '
                      'run), e.g. Transform to look at the vocabulary')
  parser.add_argument('--no-cache', action='store_true',
                      help='run every component even if its inputs are unchanged')
  parser.add_argument('--verbose', action='store_true',
                      help='show every log line live (by default they go to '
                      '<output root>/logs/<run id>.log and the terminal shows progress)')
  args = parser.parse_args(argv)
  if args.verbose:
    logging.set_verbosity(logging.INFO)
  try:
    config = dataclasses.replace(
        defaults,
        data_path=args.data,
        last_span=args.last_span,
        window_spans=args.window_spans,
        on_data_problem=args.on_data_problem,
        output_root=args.output_root,
        seed=args.seed,
        min_micro_f1=args.min_micro_f1,
        beat_label_priors=not args.no_priors_check,
        beam_pipeline_args=beam_presets.beam_args(
            args.beam_preset, job_endpoint=args.job_endpoint,
            worker_pool=args.worker_pool) + tuple(args.beam_arg),
        mysql_metadata=parse_mysql(args.mysql) if args.mysql else None,
        enable_cache=not args.no_cache,
        stop_after=args.stop_after,
        transform=dataclasses.replace(defaults.transform,
                                      max_vocabulary_size=args.max_vocabulary_size,
                                      min_label_count=args.min_label_count),
        trainer=dataclasses.replace(
            defaults.trainer, max_epochs=args.epochs, batch_size=args.batch_size,
            ensemble_members=args.ensemble_members,
            linear_weight=args.linear_weight,
            linear_rare_label_weight=args.linear_rare_label_weight,
            recency_half_life_months=args.recency_half_life_months,
            seed=args.seed if args.training_seed is None else args.training_seed))
  except ValueError as error:  # An out-of-range setting: a usage error, not a crash.
    parser.error(str(error))
  if config.stop_after:
    components = [component.id for component in create_pipeline(config).components]
    if config.stop_after not in components:
      parser.error(f'--stop-after {config.stop_after!r} is not a component; they are '
                   f'{", ".join(components)}')
  return config


def parse_mysql(address: str) -> MysqlMetadata:
  """USER@HOST[:PORT]/DATABASE -> MysqlMetadata."""
  match = re.fullmatch(r'([^@]+)@([^:/]+)(?::(\d+))?/(\w+)', address)
  if not match:
    raise SystemExit(f'--mysql {address!r}: expected USER@HOST[:PORT]/DATABASE')
  user, host, port, database = match.groups()
  return MysqlMetadata(host=host, database=database, user=user, port=int(port or 3306))


def run(config: PipelineConfig) -> dict:
  """Runs the pipeline, then returns and writes its summary."""
  started = time.monotonic()
  if config.mysql_metadata:
    console.keep_out_of_logs(config.mysql_metadata.password())
  pipeline = create_pipeline(config,
                             metadata_connection_config=config.metadata_connection_config())
  run_options = tfx_pipeline.RunOptions(to_nodes=[config.stop_after]) if (
      config.stop_after) else None
  tfx.orchestration.LocalDagRunner().run(pipeline, run_options=run_options)
  summary = run_summary.collect(config)
  if definition.EVALUATOR in summary['artifacts']:
    summary['report'] = report.write(
        summary, report.report_directory(config.output_root, summary['run_id']))
  summary['wall_seconds'] = round(time.monotonic() - started, 1)
  # Beam's DirectRunner works in this process; ru_maxrss is in KiB on Linux.
  summary['peak_rss_mib'] = round(max(
      resource.getrusage(who).ru_maxrss
      for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024)
  summary['summary_path'] = run_summary.write(summary, config.output_root)
  return summary


def main(argv: Optional[List[str]] = None) -> int:
  started_at = datetime.datetime.now()
  config = parse_config(argv)
  out, errors_out = console.make_console(), console.make_console(errors=True)
  out.print(f'Running {config.pipeline_name} on {config.data_path}', markup=False)
  progress = console.ComponentProgress(
      out, lambda node: run_summary.component_line(run_summary.collect(config), node))
  try:
    with progress:
      summary = run(config)
  except errors.DataError as error:
    # Bad data is the user's to fix: say what is wrong, not where the code noticed.
    errors_out.print(f'The run stopped: {error}', markup=False)
    _print_log_path(errors_out, _keep_log(config, started_at))
    return 1
  except Exception as error:  # pylint: disable=broad-except
    traceback.print_exc()  # Into the log, unless --verbose.
    reason = f'{type(error).__name__}: {error}'.splitlines()[0]
    errors_out.print(f'  [red]✗[/red] {progress.running or "the run"} failed after '
                     f'{progress.elapsed():.1f} s: {escape(reason[:300])}')
    if not _print_log_path(errors_out, _keep_log(config, started_at), 'the whole error'):
      raise
    return 1
  log = console.keep_log(os.path.join(config.output_root, 'logs',
                                      run_summary.file_name(summary['run_id']) + '.log'))
  out.print(run_summary.format_summary(summary), markup=False)
  out.print(f'  wall {summary["wall_seconds"]}s, peak memory {summary["peak_rss_mib"]} MiB',
            markup=False)
  if 'report' in summary:
    out.print(f'  evaluation report: {summary["report"]["html"]}', markup=False)
  out.print(f'  summary written to {summary["summary_path"]}', markup=False)
  _print_log_path(out, log)
  return 0


def _keep_log(config: PipelineConfig, started_at: datetime.datetime) -> Optional[str]:
  """Moves a failed run's log under the output root, named by its start."""
  return console.keep_log(os.path.join(config.output_root, 'logs',
                                       run_summary.file_name(started_at.isoformat()) + '.log'))


def _print_log_path(out, path: Optional[str], what: str = 'everything else') -> bool:
  if path:
    out.print(f'  log ({what}): {path}', markup=False)
  return bool(path)


if __name__ == '__main__':
  sys.exit(main())
