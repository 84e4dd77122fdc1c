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

Each month trains `--seeds` models on one Transform output (Trainer-only reruns):
one training's figure moves by up to ~0.02 micro-F1 with its seed, so a change is
judged by the mean over seeds, with intervals that draw the seeds again; the seeds'
models averaged are what `--ensemble-members` would ship. `--versus-flag` trains a
second setting on the same months and seeds and puts an interval on the difference.

    python -m benchmarks.backtest --months 4 --seeds 3
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
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from tfx.types import standard_component_specs as specs
from tfx.utils import path_utils

from benchmarks import baseline
from benchmarks import run as bench
from components import features
from components import metrics as metrics_lib
from components import settings as settings_lib
from components.example_gen import executor as example_gen_executor
from components.example_gen import spans as spans_lib
from pipeline import definition
from pipeline.config import REPOSITORY_ROOT, PipelineConfig
from serving.predictor import Predictor

MONTHLY_DATA = os.path.join(os.path.dirname(REPOSITORY_ROOT), 'shared', 'data', 'monthly',
                            'arxiv_cs_{YYYY}-{MM}.csv.gz')
_RESAMPLES = 1000
_METRICS = metrics_lib.BOOTSTRAPPED_METRICS
_METRIC_NAMES = {'micro_f1': 'micro-F1', 'macro_f1': 'macro-F1', 'precision_at_1': 'P@1'}
# The default seed first: with one seed, the backtest trains the pipeline as it ships.
_FIRST_SEED = PipelineConfig.seed
# A training with seed s trains ensemble members from seeds s, s + 1, ...: seeds this
# far apart share no member's seed, so their spread and average are of independent
# models.
_SEED_STRIDE = settings_lib.TrainerSettings().trained_models
# The models a month scores: the settings trained, their seeds averaged, the baseline.
PIPELINE, VERSUS, LOGISTIC_REGRESSION = 'pipeline', 'versus', 'logistic_regression'
ENSEMBLE = '_ensemble'


def backtest_month(data: str, month: str, output_root: str, settings: Dict[str, List[str]],
                   seeds: Sequence[int], with_baseline: bool,
                   reuse_run: bool = False) -> Dict[str, Any]:
  """Trains on the months before `month`, once per seed and setting, and scores every
  model (each seed's, and the seeds' average) and the baseline on it.

  The first setting's first seed runs the whole pipeline from scratch (with
  `reuse_run`, from what `output_root` caches: an earlier backtest's run of the same
  data and settings is taken whole); the other trainings rerun only the Trainer
  (`--stop-after Trainer`) on its cached Transform output, so every model of the
  month sees the same papers and vocabulary.
  """
  first = bench.run_pipeline(data, output_root, ['--last-span', month, '--training-seed',
                                                 str(seeds[0])] + settings[PIPELINE],
                             from_scratch=not reuse_run)
  examples_uri = first['artifacts'][definition.EXAMPLE_GEN][example_gen_executor.EXAMPLES_KEY]
  train, eval_, test = (example_gen_executor.read_papers(examples_uri, split)
                        for split in features.SPLITS)
  result: Dict[str, Any] = {
      'month': month, 'spans': first['data']['spans'],
      'split_sizes': first['data']['split_sizes'],
      'wall_seconds': first['wall_seconds'], 'peak_rss_mib': first['peak_rss_mib'],
      'components': {node: c['wall_seconds'] for node, c in first['components'].items()},
      'data_check': first.get('data_check', {}).get('drift'),
      'arrays': {},
  }
  label_names: Optional[List[str]] = None
  for name, flags in settings.items():
    trainings = []
    for seed in seeds:
      summary = first if not trainings and name == PIPELINE else bench.run_pipeline(
          data, output_root, ['--last-span', month, '--training-seed', str(seed),
                              '--stop-after', definition.TRAINER] + flags, from_scratch=False)
      # The trained model, blessed or not: a backtest scores every month's model.
      predictor = Predictor(path_utils.serving_model_path(
          summary['artifacts'][definition.TRAINER][specs.MODEL_KEY]))
      if label_names is None:
        label_names = list(predictor.labels)
        labels = {'eval': baseline.multi_hot(eval_, label_names),
                  'test': baseline.multi_hot(test, label_names)}
        result['arrays']['labels'] = labels['test']
      elif list(predictor.labels) != label_names:
        raise ValueError(f'{name}: the settings compared must share the label vocabulary '
                         '(Trainer settings only)')
      trainings.append({'seed': seed, 'summary': summary,
                        'eval': bench.model_predictions(predictor, eval_),
                        'test': bench.model_predictions(predictor, test)})
    result[name] = score_trainings(trainings, labels)
    result['arrays'][name] = [t['test'] for t in trainings]
    if len(seeds) > 1:
      result[name + ENSEMBLE], result['arrays'][name + ENSEMBLE] = ensemble(trainings, labels)
      # What averaging fewer models would give: the first k seeds, k = 1 .. all.
      result[name]['ensemble_of_first'] = [ensemble(trainings[:k], labels)[0]
                                           for k in range(1, len(seeds) + 1)]
  if with_baseline:
    vocabulary_size = first['model']['vocabulary_size']
    result[LOGISTIC_REGRESSION], probabilities, threshold = baseline.logistic_regression(
        train, eval_, test, label_names, max_features=vocabulary_size)
    result['arrays'][LOGISTIC_REGRESSION] = (probabilities, np.float32(threshold))
  return result


def score_trainings(trainings: List[Dict[str, Any]],
                    labels: Dict[str, np.ndarray]) -> Dict[str, Any]:
  """Each training's test metrics, their mean over the seeds and their spread."""
  per_seed = [{'seed': t['seed'],
               **metrics_lib.classification_metrics(labels['test'], *t['test']),
               'epochs': [m['epochs_run'] for m in t['summary']['model']['members']],
               'trainer_seconds': t['summary']['components'][definition.TRAINER]['wall_seconds']}
              for t in trainings]
  return {**{name: float(np.mean([s[name] for s in per_seed])) for name in _METRICS},
          'spread': {name: [min(s[name] for s in per_seed), max(s[name] for s in per_seed)]
                     for name in _METRICS},
          'seeds': per_seed}


def ensemble(trainings: List[Dict[str, Any]], labels: Dict[str, np.ndarray]
             ) -> Tuple[Dict[str, float], metrics_lib.Model]:
  """The seeds' models averaged: the mean of their probabilities, with one threshold
  tuned on the mean of their eval probabilities (best micro-F1), as the Trainer tunes
  one model's."""
  eval_probabilities = np.mean([t['eval'][0] for t in trainings], axis=0)
  test_probabilities = np.mean([t['test'][0] for t in trainings], axis=0)
  threshold = np.float32(metrics_lib.tune_global_threshold(labels['eval'], eval_probabilities))
  return ({**metrics_lib.classification_metrics(labels['test'], test_probabilities, threshold),
           'threshold': float(threshold)}, (test_probabilities, threshold))


def comparisons(models: Sequence[str]) -> List[Tuple[str, str]]:
  """The pairs the averages compare, (A, B) for A - B: every model against the
  baseline, the other setting against this one, an ensemble against its members."""
  pairs = [(model, LOGISTIC_REGRESSION) for model in models if model != LOGISTIC_REGRESSION]
  for setting in (PIPELINE, VERSUS):
    if setting + ENSEMBLE in models:
      pairs.append((setting + ENSEMBLE, setting))
  if VERSUS in models:
    pairs.append((VERSUS, PIPELINE))
    if VERSUS + ENSEMBLE in models:
      pairs.append((VERSUS + ENSEMBLE, PIPELINE + ENSEMBLE))
  return [(a, b) for a, b in pairs if a in models and b in models]


def average(months: List[Dict[str, Any]], models: Sequence[str]) -> Dict[str, Any]:
  """Each model's metrics averaged over the months, and each comparison's difference,
  with paired-bootstrap intervals (papers resampled per month, seeds drawn again)."""
  scored, differences = {}, {}
  for a, b in comparisons(models) or [(models[0], models[0])]:
    intervals = metrics_lib.paired_bootstrap_mean(
        [(m['arrays']['labels'], m['arrays'][a], m['arrays'][b]) for m in months],
        resamples=_RESAMPLES)
    scored.setdefault(a, intervals['a'])
    scored.setdefault(b, intervals['b'])
    if a != b:
      differences[f'{a} - {b}'] = intervals['a_minus_b']
  return {'resamples': _RESAMPLES, 'models': {model: scored[model] for model in models},
          'differences': differences, 'ensemble_of_first': {
              setting: [{name: float(np.mean([m[setting]['ensemble_of_first'][k][name]
                                              for m in months])) for name in _METRICS}
                        for k in range(len(months[0][setting]['ensemble_of_first']))]
              for setting in (PIPELINE, VERSUS)
              if setting in models and 'ensemble_of_first' in months[0][setting]}}


def _model_name(model: str, settings: Dict[str, List[str]]) -> str:
  """'versus_ensemble' -> 'versus --flag=x (seeds averaged)'."""
  setting = model.replace(ENSEMBLE, '')
  name = setting.replace('_', ' ')
  if setting == VERSUS:
    name += ' ' + ' '.join(settings[VERSUS][len(settings[PIPELINE]):])
  return name + (' (seeds averaged)' if model.endswith(ENSEMBLE) else '')


def table(results: Dict[str, Any]) -> str:
  """The backtest as Markdown: one row per month and model, then the averages."""
  seeds = results['seeds']
  rows = ['| test month | train months | train / eval / test papers | model | micro-F1 | '
          'macro-F1 | P@1 | time |', '|---|---|---|---|---|---|---|---|']
  for m in results['months']:
    sizes = ' / '.join(f'{m["split_sizes"][s]:,}' for s in features.SPLITS)
    train_spans = m['spans'][features.TRAIN_SPLIT]
    first = True
    for model in results['models']:
      figures = m[model]
      cells = [f'{figures[name]:.3f}' + (
          f' ({figures["spread"][name][0]:.3f}-{figures["spread"][name][1]:.3f})'
          if len(seeds) > 1 and 'spread' in figures else '') for name in _METRICS]
      if model == LOGISTIC_REGRESSION:
        time_ = f'fit {figures["fit_seconds"]:.0f} s'
      elif model in (PIPELINE, VERSUS):
        trainer = [s['trainer_seconds'] for s in figures['seeds']]
        time_ = (f'Trainer {np.mean(trainer):.0f} s' +
                 (f' x {len(trainer)}' if len(trainer) > 1 else ''))
        if model == PIPELINE:
          time_ = (f'{m["wall_seconds"]:.0f} s wall, {m["peak_rss_mib"]:,} MiB; ' + time_)
      else:
        time_ = ''
      leading = (f'| {m["month"]} | {train_spans[0]}..{train_spans[-1]} | {sizes} |' if first
                 else '| | | |')
      rows.append(f'{leading} {_model_name(model, results["settings"])} | ' + ' | '.join(cells) + f' | {time_} |')
      first = False
  average_ = results['average']
  rows += ['', f'Mean over the {len(results["months"])} months'
           + (f' and {len(seeds)} seeds ({", ".join(map(str, seeds))}; per month above: the '
              'mean, and the lowest-highest seed)' if len(seeds) > 1 else '') +
           f', 95% intervals from a paired bootstrap ({average_["resamples"]:,} resamples of '
           'each month' + ('; each also draws the seeds again' if len(seeds) > 1 else '') +
           '):', '',
           '| | ' + ' | '.join(_METRIC_NAMES[n] for n in _METRICS) + ' |', '|---|---|---|---|']
  for key, intervals in [*average_['models'].items(), *average_['differences'].items()]:
    sign = '+' if key in average_['differences'] else ''
    name = ' - '.join(_model_name(part, results['settings']) for part in key.split(' - '))
    rows.append(f'| {name} | ' + ' | '.join(
        f'{i["estimate"]:{sign}.3f} [{i["low"]:{sign}.3f}, {i["high"]:{sign}.3f}]'
        for i in (intervals[n] for n in _METRICS)) + ' |')
  for setting, curve in average_['ensemble_of_first'].items():
    rows += ['', f'{_model_name(setting, results["settings"])}: the first k seeds\' models '
             'averaged, mean over the months:', '',
             '| k | ' + ' | '.join(_METRIC_NAMES[n] for n in _METRICS) + ' |',
             '|---|---|---|---|']
    rows += [f'| {k} | ' + ' | '.join(f'{figures[n]:.3f}' for n in _METRICS) + ' |'
             for k, figures in enumerate(curve, 1)]
  return '\n'.join(rows)


def plot(results: Dict[str, Any], path: str) -> None:
  """Each metric month by month, one line per model."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  months = [m['month'] for m in results['months']]
  figure, axes = plt.subplots(1, len(_METRICS), figsize=(4 * len(_METRICS), 3.4))
  for axis, name in zip(axes, _METRICS):
    for model, style in zip(results['models'], ('o-', 's--', '^-', 'v-', 'D:')):
      axis.plot(months, [m[model][name] for m in results['months']], style,
                label=_model_name(model, results['settings']))
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
  parser.add_argument('--versus-flag', action='append', default=[],
                      help='a second setting, trained beside the first on the same months '
                      'and seeds and compared with it: its run_local.py Trainer flag(s), '
                      'e.g. --versus-flag=--epochs=5')
  parser.add_argument('--seeds', type=int, default=3,
                      help='trainings per month and setting, training seeds 42, 42 + K, ... '
                      '(K: the models one training fits, TrainerSettings.trained_models) '
                      '(the split and the Transform output shared)')
  parser.add_argument('--reuse-runs', action='store_true',
                      help="take each month's first run from the output root's cache (an "
                      'earlier backtest into it, the same data and settings): another '
                      '--versus-flag then costs only its trainings; the time columns are '
                      'then the cached run\'s, not timings')
  args = parser.parse_args(argv)
  if args.months < 1:
    parser.error('--months must be at least 1')
  if args.seeds < 1:
    parser.error('--seeds must be at least 1')

  months = [span.name for span in spans_lib.list_spans(args.data)][-args.months:]
  seeds = [_FIRST_SEED + i * _SEED_STRIDE for i in range(args.seeds)]
  settings = {PIPELINE: args.pipeline_flag}
  if args.versus_flag:
    settings[VERSUS] = args.pipeline_flag + args.versus_flag
  models = [model for setting in settings
            for model in (setting, setting + ENSEMBLE)[:1 + (len(seeds) > 1)]]
  models += [] if args.skip_baseline else [LOGISTIC_REGRESSION]
  results: Dict[str, Any] = {'data': args.data, 'settings': settings, 'seeds': seeds,
                             'models': models, 'months': []}
  os.makedirs(args.output_root, exist_ok=True)
  for month in months:
    started = time.monotonic()
    result = backtest_month(args.data, month, os.path.join(args.output_root, month),
                            settings, seeds, not args.skip_baseline, args.reuse_runs)
    results['months'].append(result)
    # Each month's figures as soon as they exist: a month takes tens of minutes.
    with open(os.path.join(args.output_root, month, 'backtest_month.json'), 'w') as f:
      json.dump({k: v for k, v in result.items() if k != 'arrays'}, f, indent=2, default=float)
    print(f'{month}: done in {time.monotonic() - started:.0f} s', flush=True)
  results['average'] = average(results['months'], models)
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
