"""`make backtest`: quality on next month's papers, the way the model is used.

For each of the last K months of a monthly data set: the pipeline, run from scratch
with that month as its test span (`--last-span`), trains on the months before it;
TF-IDF + one-vs-rest logistic regression is fitted on the same train split, its
threshold tuned on the same eval split, and both are scored on that month's papers.
The table gives each month's micro-F1, macro-F1 and precision@1 of both, their
average over the months with 95% paired-bootstrap intervals (each month resampled
on its own), the pipeline's wall time and peak memory, and the baseline's fit time;
a plot shows both models month by month. Written to `<output root>/backtest.json`,
`backtest.md` and `backtest.png`.

    python -m benchmarks.backtest --months 4
"""

import sys

from pipeline import console

if __name__ == '__main__':
  # TensorFlow's and Beam's notices go to a log under outputs/logs; the figures to the
  # terminal.
  console.divert_output(verbose=False, keep_prints=True)

# pylint: disable=g-import-not-at-top,wrong-import-position
import json
import os
import time
from typing import Any, Dict, List, Optional

import numpy as np
from tfx.types import standard_component_specs as specs
from tfx.utils import path_utils

from benchmarks import baseline
from benchmarks import run as bench
from components import features
from components import metrics as metrics_lib
from components.example_gen import executor as example_gen_executor
from components.example_gen import spans as spans_lib
from pipeline import definition
from pipeline.config import REPOSITORY_ROOT
from serving.predictor import Predictor

MONTHLY_DATA = os.path.join(os.path.dirname(REPOSITORY_ROOT), 'shared', 'data', 'monthly',
                            'arxiv_cs_{YYYY}-{MM}.csv.gz')
_RESAMPLES = 1000
_METRICS = metrics_lib.BOOTSTRAPPED_METRICS
_METRIC_NAMES = {'micro_f1': 'micro-F1', 'macro_f1': 'macro-F1', 'precision_at_1': 'P@1'}


def backtest_month(data: str, month: str, output_root: str, pipeline_flags: List[str],
                   with_baseline: bool) -> Dict[str, Any]:
  """Trains on the months before `month` and scores both models on it."""
  summary = bench.run_pipeline(data, output_root, ['--last-span', month] + pipeline_flags)
  examples_uri = summary['artifacts'][definition.EXAMPLE_GEN][example_gen_executor.EXAMPLES_KEY]
  train, eval_, test = (example_gen_executor.read_papers(examples_uri, split)
                        for split in features.SPLITS)
  # The trained model, blessed or not: a backtest scores every month's model.
  predictor = Predictor(path_utils.serving_model_path(
      summary['artifacts'][definition.TRAINER][specs.MODEL_KEY]))
  test_labels = baseline.multi_hot(test, predictor.labels)
  pipeline_predictions = bench.model_predictions(predictor, test)
  result: Dict[str, Any] = {
      'month': month, 'spans': summary['data']['spans'],
      'split_sizes': summary['data']['split_sizes'],
      'pipeline': {
          **metrics_lib.classification_metrics(test_labels, *pipeline_predictions),
          'wall_seconds': summary['wall_seconds'], 'peak_rss_mib': summary['peak_rss_mib'],
          'components': {node: c['wall_seconds'] for node, c in summary['components'].items()},
          'data_check': summary.get('data_check', {}).get('drift'),
      },
      'arrays': {'labels': test_labels, 'pipeline': pipeline_predictions},
  }
  if with_baseline:
    vocabulary_size = summary['model']['vocabulary_size']
    result['logistic_regression'], probabilities, threshold = baseline.logistic_regression(
        train, eval_, test, predictor.labels, max_features=vocabulary_size)
    result['arrays']['logistic_regression'] = (probabilities, np.float32(threshold))
  return result


def average(months: List[Dict[str, Any]], with_baseline: bool) -> Dict[str, Any]:
  """Both models' metrics averaged over the months, with paired-bootstrap intervals."""
  if not with_baseline:
    return {name: float(np.mean([m['pipeline'][name] for m in months])) for name in _METRICS}
  intervals = metrics_lib.paired_bootstrap_mean(
      [(m['arrays']['labels'], m['arrays']['pipeline'], m['arrays']['logistic_regression'])
       for m in months], resamples=_RESAMPLES)
  return {'pipeline': intervals['a'], 'logistic_regression': intervals['b'],
          'pipeline_minus_logistic_regression': intervals['a_minus_b'],
          'resamples': _RESAMPLES}


def table(results: Dict[str, Any]) -> str:
  """The backtest as Markdown: one row per month and model, then the averages."""
  with_baseline = 'pipeline_minus_logistic_regression' in results['average']
  rows = ['| test month | train months | train / eval / test papers | model | micro-F1 | '
          'macro-F1 | P@1 | time |', '|---|---|---|---|---|---|---|---|']
  for m in results['months']:
    sizes = ' / '.join(f'{m["split_sizes"][s]:,}' for s in features.SPLITS)
    train_spans = m['spans'][features.TRAIN_SPLIT]
    p = m['pipeline']
    rows.append(f'| {m["month"]} | {train_spans[0]}..{train_spans[-1]} | {sizes} | pipeline | '
                + ' | '.join(f'{p[name]:.3f}' for name in _METRICS) +
                f' | {p["wall_seconds"]:.0f} s wall '
                f'(Trainer {p["components"][definition.TRAINER]:.0f} s), '
                f'{p["peak_rss_mib"]:,} MiB |')
    if with_baseline:
      lr = m['logistic_regression']
      rows.append('| | | | logistic regression | ' +
                  ' | '.join(f'{lr[name]:.3f}' for name in _METRICS) +
                  f' | fit {lr["fit_seconds"]:.0f} s |')
  average_ = results['average']
  rows += ['', f'Mean over the {len(results["months"])} months'
           + (f', 95% intervals from a paired bootstrap ({average_["resamples"]:,} resamples of '
              'each month):' if with_baseline else ':'), '',
           '| | ' + ' | '.join(_METRIC_NAMES[n] for n in _METRICS) + ' |', '|---|---|---|---|']
  if not with_baseline:
    rows.append('| pipeline | ' + ' | '.join(f'{average_[n]:.3f}' for n in _METRICS) + ' |')
    return '\n'.join(rows)
  for key, name, sign in (('pipeline', 'pipeline', ''),
                          ('logistic_regression', 'logistic regression', ''),
                          ('pipeline_minus_logistic_regression',
                           'pipeline - logistic regression', '+')):
    rows.append(f'| {name} | ' + ' | '.join(
        f'{i["estimate"]:{sign}.3f} [{i["low"]:{sign}.3f}, {i["high"]:{sign}.3f}]'
        for i in (average_[key][n] for n in _METRICS)) + ' |')
  return '\n'.join(rows)


def plot(results: Dict[str, Any], path: str) -> None:
  """Each metric month by month, one line per model."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  months = [m['month'] for m in results['months']]
  figure, axes = plt.subplots(1, len(_METRICS), figsize=(4 * len(_METRICS), 3.4))
  for axis, name in zip(axes, _METRICS):
    for model, style in (('pipeline', 'o-'), ('logistic_regression', 's--')):
      values = [m[model][name] for m in results['months'] if model in m]
      if values:
        axis.plot(months, values, style, label=model.replace('_', ' '))
    axis.set_title(_METRIC_NAMES[name])
    axis.tick_params(axis='x', rotation=45)
    axis.grid(alpha=0.3)
  axes[0].legend()
  figure.suptitle('Backtest: trained on the months before, scored on the month')
  figure.tight_layout()
  figure.savefig(path, dpi=110)
  plt.close(figure)


def main(argv: Optional[List[str]] = None) -> int:
  parser = console.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--data', default=MONTHLY_DATA, help='a monthly span pattern')
  parser.add_argument('--months', type=int, default=4, help='how many of the last months')
  parser.add_argument('--output-root',
                      default=os.path.join(REPOSITORY_ROOT, 'outputs', 'backtest'))
  parser.add_argument('--skip-baseline', action='store_true',
                      help='skip the logistic-regression baseline (minutes a month)')
  parser.add_argument('--pipeline-flag', action='append', default=[],
                      help='extra flag for run_local.py, e.g. --pipeline-flag=--epochs=5')
  args = parser.parse_args(argv)
  if args.months < 1:
    parser.error('--months must be at least 1')

  months = [span.name for span in spans_lib.list_spans(args.data)][-args.months:]
  results: Dict[str, Any] = {'data': args.data, 'pipeline_flags': args.pipeline_flag,
                             'months': []}
  os.makedirs(args.output_root, exist_ok=True)
  for month in months:
    started = time.monotonic()
    result = backtest_month(args.data, month, os.path.join(args.output_root, month),
                            args.pipeline_flag, not args.skip_baseline)
    results['months'].append(result)
    # Each month's figures as soon as they exist: a month takes tens of minutes.
    with open(os.path.join(args.output_root, month, 'backtest_month.json'), 'w') as f:
      json.dump({k: v for k, v in result.items() if k != 'arrays'}, f, indent=2, default=float)
    print(f'{month}: done in {time.monotonic() - started:.0f} s', flush=True)
  results['average'] = average(results['months'], not args.skip_baseline)
  results['finished_at'] = time.strftime('%Y-%m-%d %H:%M:%S')
  for month in results['months']:
    del month['arrays']

  text = table(results)
  print(text)
  with open(os.path.join(args.output_root, 'backtest.json'), 'w') as f:
    json.dump(results, f, indent=2, default=float)
  with open(os.path.join(args.output_root, 'backtest.md'), 'w') as f:
    f.write(text + '\n')
  plot(results, os.path.join(args.output_root, 'backtest.png'))
  print(f'\nwritten to {os.path.join(args.output_root, "backtest.json")}, backtest.md, '
        'backtest.png')
  return 0


if __name__ == '__main__':
  sys.exit(console.run_tool(main, os.path.join(REPOSITORY_ROOT, 'outputs'), 'backtest'))
