"""`make backtest`'s arithmetic: seeds averaged, the comparisons, the table."""

import numpy as np
import pytest

from benchmarks import backtest
from components import metrics
from components.example_gen import spans
from pipeline.config import MONTHLY_SAMPLE


def _training(seed, rng, labels):
  """A model's eval and test predictions, with the threshold the Trainer would tune."""
  eval_, test = (np.clip(labels[split] + rng.normal(0, 0.4, labels[split].shape), 0, 1)
                 for split in ('eval', 'test'))
  threshold = np.full(labels['test'].shape[1], metrics.tune_global_threshold(labels['eval'], eval_))
  return {'seed': seed, 'eval': (eval_, threshold), 'test': (test, threshold),
          'summary': {'model': {'members': [{'epochs_run': 12}]},
                      'components': {'Trainer': {'wall_seconds': 30.0}}}}


def test_seeds_are_scored_alone_and_averaged_into_one_model():
  rng = np.random.default_rng(0)
  labels = {split: rng.random((300, 5)) < 0.3 for split in ('eval', 'test')}
  trainings = [_training(seed, rng, labels) for seed in (42, 43, 44)]
  scored = backtest.score_trainings(trainings, labels)
  per_seed = [metrics.classification_metrics(labels['test'], *t['test'])['micro_f1']
              for t in trainings]
  assert [s['micro_f1'] for s in scored['seeds']] == pytest.approx(per_seed)
  assert scored['micro_f1'] == pytest.approx(np.mean(per_seed))
  assert scored['spread']['micro_f1'] == pytest.approx([min(per_seed), max(per_seed)])

  figures, (probabilities, threshold) = backtest.ensemble(trainings, labels)
  assert probabilities == pytest.approx(np.mean([t['test'][0] for t in trainings], axis=0))
  assert threshold == pytest.approx(metrics.tune_global_threshold(
      labels['eval'], np.mean([t['eval'][0] for t in trainings], axis=0)))
  # Averaging three noisy trainings beats the average training here.
  assert figures['micro_f1'] > scored['micro_f1']


def test_every_model_is_compared_with_the_baseline_and_the_settings_with_each_other():
  models = ['pipeline', 'pipeline_ensemble', 'versus', 'versus_ensemble',
            'logistic_regression']
  assert backtest.comparisons(models) == [
      ('pipeline', 'logistic_regression'), ('pipeline_ensemble', 'logistic_regression'),
      ('versus', 'logistic_regression'), ('versus_ensemble', 'logistic_regression'),
      ('pipeline_ensemble', 'pipeline'), ('versus_ensemble', 'versus'),
      ('versus', 'pipeline'), ('versus_ensemble', 'pipeline_ensemble')]
  assert backtest.comparisons(['pipeline']) == []


def test_the_table_has_a_row_per_month_and_model_and_the_intervals():
  rng = np.random.default_rng(1)
  labels = {split: rng.random((200, 4)) < 0.3 for split in ('eval', 'test')}
  trainings = [_training(seed, rng, labels) for seed in (42, 43)]
  ensemble_figures, ensemble_model = backtest.ensemble(trainings, labels)
  baseline = _training(0, rng, labels)['test']
  month = {'month': '2026-05', 'spans': {'train': ['2025-03', '2026-03']},
           'split_sizes': {'train': 1000, 'eval': 200, 'test': 200},
           'wall_seconds': 300.0, 'peak_rss_mib': 6000,
           'pipeline': backtest.score_trainings(trainings, labels),
           'pipeline_ensemble': ensemble_figures,
           'logistic_regression': {**metrics.classification_metrics(labels['test'], *baseline),
                                   'fit_seconds': 100.0},
           'arrays': {'labels': labels['test'], 'pipeline': [t['test'] for t in trainings],
                      'pipeline_ensemble': ensemble_model, 'logistic_regression': baseline}}
  models = ['pipeline', 'pipeline_ensemble', 'logistic_regression']
  month['pipeline']['ensemble_of_first'] = [backtest.ensemble(trainings[:k], labels)[0]
                                            for k in (1, 2)]
  results = {'seeds': [42, 43], 'models': models, 'months': [month],
             'settings': {'pipeline': [], 'versus': ['--epochs=3']},
             'average': backtest.average([month], models)}
  text = backtest.table(results)
  assert '| 2026-05 | 2025-03..2026-03 | 1,000 / 200 / 200 | pipeline |' in text
  assert '| | | | pipeline (seeds averaged) |' in text
  assert 'Trainer 30 s x 2' in text
  assert 'Mean over the 1 months and 2 seeds' in text
  for row in ('| pipeline - logistic regression |',
              '| pipeline (seeds averaged) - pipeline |'):
    assert row in text
  assert results['average']['models']['pipeline']['micro_f1']['estimate'] == pytest.approx(
      month['pipeline']['micro_f1'])
  assert list(results['average']['models']) == models
  # Averaging the first seed alone is that seed's model; both, the ensemble row.
  curve = results['average']['ensemble_of_first']['pipeline']
  assert curve[0]['micro_f1'] == pytest.approx(month['pipeline']['seeds'][0]['micro_f1'])
  assert curve[1]['micro_f1'] == pytest.approx(ensemble_figures['micro_f1'])
  assert '| 2 | ' + ' | '.join(f'{ensemble_figures[n]:.3f}' for n in (
      'micro_f1', 'macro_f1', 'precision_at_1')) + ' |' in text
  assert backtest._model_name('versus_ensemble', results['settings']) == (  # pylint: disable=protected-access
      'versus --epochs=3 (seeds averaged)')


class _Stop(Exception):
  pass


@pytest.mark.parametrize('flags, from_scratch', [([], True), (['--reuse-runs'], False)])
def test_each_month_starts_from_scratch_unless_told_to_reuse_its_cached_run(
    monkeypatch, tmp_path, flags, from_scratch):
  calls = []

  def run_pipeline(data, output_root, pipeline_flags, from_scratch=True):
    calls.append((output_root, pipeline_flags, from_scratch))
    raise _Stop

  monkeypatch.setattr(backtest.bench, 'run_pipeline', run_pipeline)
  with pytest.raises(_Stop):
    backtest.main(['--data', MONTHLY_SAMPLE, '--months', '1', '--seeds', '1',
                   '--output-root', str(tmp_path), *flags])
  newest = spans.list_spans(MONTHLY_SAMPLE)[-1].name
  assert calls == [(str(tmp_path / newest), ['--last-span', newest, '--training-seed', '42'],
                    from_scratch)]
