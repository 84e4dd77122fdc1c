"""The same papers and seed train the same model, whatever order they come in.

Two runs from scratch into two output roots, started at once: one on the in-process
DirectRunner, one on the direct-multiprocessing preset and with the papers in the
reverse order, so that every component downstream of the CSV (ExampleGen's files,
Transform's analysis and output, the Trainer's input) sees them in another order
(on a small input the two runners alone write the same order). Both must report
the same test metrics and push models that give the same probabilities.
"""

import subprocess

import numpy as np
import pytest

from components import features
from serving.predictor import Predictor
from tests.conftest import (LANGUAGE, SHORT, VISION, run_local_command, sample_rows,
                            summary_of, write_csv)

# Enough epochs for training to move the weights far from their start; a vocabulary
# cap below the n-grams of these papers, so that the cut has ties to break.
PAPERS, EPOCHS = 300, 3
FLAGS = ('--epochs', str(EPOCHS), '--max-vocabulary-size', '3000')


def test_two_runs_on_different_runners_train_the_same_model(tmp_path):
  # One paper per title: of papers sharing a title ExampleGen keeps the first.
  rows = list({title: (title, abstract, labels)
               for title, abstract, labels in sample_rows(PAPERS)}.values())
  inputs = {'direct': write_csv(str(tmp_path / 'papers.csv'), rows),
            'direct-multiprocessing': write_csv(str(tmp_path / 'reversed.csv'), rows[::-1])}
  roots = {preset: tmp_path / preset for preset in inputs}
  runs = {preset: subprocess.Popen(
      run_local_command(data, roots[preset], *FLAGS, '--beam-preset', preset),
      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
          for preset, data in inputs.items()}
  for preset, run in runs.items():
    output, _ = run.communicate()
    assert run.returncode == 0, f'{preset}: {output[-3000:]}'
  direct, other = (summary_of(root) for root in roots.values())
  for name in ('rows_kept', 'split_sizes'):
    assert direct['data'][name] == other['data'][name], name
  assert direct['model']['epochs_run'] == EPOCHS
  for name in ('vocabulary_size', 'num_labels', 'best_epoch', 'threshold', 'best_val_micro_f1'):
    assert other['model'][name] == direct['model'][name], name
  assert set(direct['test_metrics']) >= {'micro_f1', 'macro_f1'}
  for name, value in direct['test_metrics'].items():
    assert other['test_metrics'][name] == pytest.approx(value, abs=1e-6), name
  abstracts = [VISION, LANGUAGE, SHORT] + [abstract for _, abstract, _ in sample_rows(20)]
  direct_model, other_model = (Predictor(summary['pushed_model_path'])
                               for summary in (direct, other))
  assert direct_model.labels == other_model.labels
  probabilities = [model.outputs(abstracts, [''] * len(abstracts))[features.PROBABILITIES_KEY]
                   for model in (direct_model, other_model)]
  assert np.abs(probabilities[0] - probabilities[1]).max() <= 1e-6
