"""The evaluation notebook (`notebooks/evaluation.ipynb`), executed headless on the
session's run as a TFX user would open it, and the ML Metadata views it shows."""

import collections
import os

import nbclient
import nbformat

from pipeline import definition
from pipeline import lineage
from pipeline import run_local
from pipeline.config import REPOSITORY_ROOT
from tfx.types import standard_component_specs as specs

NOTEBOOK = os.path.join(REPOSITORY_ROOT, 'notebooks', 'evaluation.ipynb')
WIDGET_STATE = 'application/vnd.jupyter.widget-state+json'


def output_root(flags):
  return flags[flags.index('--output-root') + 1]


def test_the_pushed_model_traces_back_to_its_examples(first_run, flags):
  ancestors = lineage.pushed_model_lineage(run_local.parse_config(
      ['--output-root', output_root(flags)]))
  pushed = ancestors[0]
  assert (pushed.depth, pushed.artifact_type, pushed.produced_by) == (0, 'PushedModel', 'Pusher')
  assert pushed.properties['pushed_destination'] == first_run['pushed_model_path']
  by_type = collections.defaultdict(list)
  for ancestor in ancestors:
    by_type[ancestor.artifact_type].append(ancestor)
  [model] = by_type['Model']
  assert (model.depth, model.produced_by, model.uri) == (
      1, 'Trainer', first_run['artifacts'][definition.TRAINER][specs.MODEL_KEY])
  assert {a.produced_by for a in by_type['Examples']} == {'ArxivExampleGen', 'Transform'}
  assert by_type['Schema'] and by_type['TransformGraph'] and by_type['ModelBlessing']


def test_evaluations_list_the_candidate_of_each_run_oldest_first(first_run, flags):
  results = lineage.evaluations(run_local.parse_config(
      ['--output-root', output_root(flags)])).get_results()
  assert results[0].model_location.startswith(
      first_run['artifacts'][definition.TRAINER][specs.MODEL_KEY])
  assert all(result.get_metrics_for_slice(())['micro_f1'] for result in results)


def test_the_evaluation_notebook_runs_and_shows_tfma_and_tfdv_views(first_run, flags):
  notebook = nbformat.read(NOTEBOOK, as_version=4)
  [parameters] = [c for c in notebook.cells if 'parameters' in c.metadata.get('tags', [])]
  parameters.source = f'OUTPUT_ROOT = {output_root(flags)!r}'
  # Raises on the first cell that fails, naming it.
  nbclient.NotebookClient(notebook, timeout=600, kernel_name='python3', resources={
      'metadata': {'path': os.path.dirname(NOTEBOOK)}}).execute()
  outputs = [o for c in notebook.cells if c.cell_type == 'code' for o in c.outputs]
  assert [o for o in outputs if o.get('name') == 'stderr'] == []  # Quiet, as runs are.
  # TFMA's widgets, with the data they show saved in the notebook.
  widgets = [m for m in notebook.metadata['widgets'][WIDGET_STATE]['state'].values()
             if m['model_name'] != 'LayoutModel']
  assert collections.Counter(m['model_name'] for m in widgets) == {
      'SlicingMetricsModel': 1, 'PlotModel': 2, 'TimeSeriesModel': 1}
  [slicing] = [m['state']['data'] for m in widgets if m['model_name'] == 'SlicingMetricsModel']
  assert all(entry['slice'].startswith('primary_label:') for entry in slicing)
  assert any(key.startswith('classId:') for key in slicing[0]['metrics'][''])
  html = '\n'.join(o['data']['text/html'] for o in outputs if 'text/html' in o.get('data', {}))
  assert 'facets-overview' in html  # TFDV's statistics view, train against test.
  assert html.count('No anomalies found') == 3  # TFDV's anomalies view, split by split.
  assert 'PushedModel' in html and 'ArxivExampleGen' in html  # The lineage table.
  assert '<th>cs.CV</th>' in html  # The per-label table names its labels.
