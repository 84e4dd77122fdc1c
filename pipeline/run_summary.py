"""Summary of a pipeline run, read back from ML Metadata and the run's artifacts.

What a person asks after a run: how many rows were read, dropped (and why) and kept
per split; how many labels and n-grams; how long each component took; how good the
model is on the test split; whether it was blessed and where it was pushed.
"""

import json
import os
from typing import Any, Dict, List, Optional

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
import tensorflow_transform as tft
from tfx.types import standard_component_specs as specs

from components import data_gate
from components import evaluation
from components import features
from components import run_records
from components.example_gen import executor as example_gen_executor
from pipeline import definition
from pipeline import formatting
from pipeline.config import PipelineConfig

SUMMARY_FILE = 'run_summary.json'
_STATES = {value: name for name, value in metadata_store_pb2.Execution.State.items()}
# Test metrics shown first in the printed summary.
HEADLINE_METRICS = ('micro_f1', 'micro_precision', 'micro_recall', 'precision_at_1',
                    'precision_at_3', 'micro_auc', 'binary_accuracy')


def collect(config: PipelineConfig, run_id: Optional[str] = None) -> Dict[str, Any]:
  """Reads a run (the newest by default) of `config`'s pipeline from its ML Metadata."""
  store = metadata_store.MetadataStore(config.metadata_connection_config())
  # Each pipeline has a metadata database of its own: every run in it is ours.
  runs = [run for run in store.get_contexts_by_type('pipeline_run')
          if run_id in (None, run.name)]
  if not runs:
    raise LookupError(f'no run {run_id or ""} of {config.pipeline_name} in '
                      f'{config.metadata_path}')
  run = max(runs, key=lambda context: context.create_time_since_epoch)

  components, outputs = {}, {}
  for execution in sorted(store.get_executions_by_context(run.id), key=lambda e: e.id):
    node = node_id(store, execution, config.pipeline_name)
    components[node] = {
        'state': _STATES.get(execution.last_known_state, 'UNKNOWN'),
        'wall_seconds': round((execution.last_update_time_since_epoch -
                               execution.create_time_since_epoch) / 1000.0, 1),
    }
    outputs[node] = _output_artifacts(store, execution.id)

  def artifact(node: str, key: str) -> Optional[metadata_store_pb2.Artifact]:
    found = outputs.get(node, {}).get(key)
    return found[0] if found else None

  summary: Dict[str, Any] = {
      'pipeline_name': config.pipeline_name,
      'run_id': run.name,
      'pipeline_root': config.pipeline_root,
      'components': components,
      'artifacts': {node: {key: found[0].uri for key, found in by_key.items()}
                    for node, by_key in outputs.items() if by_key},
  }
  report = artifact(definition.EXAMPLE_GEN, example_gen_executor.DATA_REPORT_KEY)
  if report:
    data = run_records.DataReport.read(report.uri)
    summary['data_path'] = data.input_pattern
    summary['data'] = data.model_dump(include={
        'rows_read', 'rows_dropped', 'dropped_examples', 'rows_kept', 'split_sizes',
        'label_combinations_kept', 'spans'})
  anomalies = artifact(definition.EXAMPLE_VALIDATOR, specs.ANOMALIES_KEY)
  if anomalies:
    summary['anomalies'] = data_gate.read_anomalies(anomalies.uri)
  data_check = artifact(definition.DATA_GATE, data_gate.DATA_CHECK_KEY)
  if data_check:
    summary['data_check'] = _read_json(os.path.join(data_check.uri, data_gate.DATA_CHECK_FILE))
  transform_graph = artifact(definition.TRANSFORM, specs.TRANSFORM_GRAPH_KEY)
  if transform_graph:
    transform_output = tft.TFTransformOutput(transform_graph.uri)
    summary['vocabularies'] = {name: transform_output.vocabulary_size_by_name(name) for name in
                               (features.NGRAM_VOCABULARY, features.LABEL_VOCABULARY)}
  model_run = artifact(definition.TRAINER, specs.MODEL_RUN_KEY)
  if model_run:
    record = run_records.TrainingRecord.read(model_run.uri)
    summary['model'] = record.model_dump(include={
        'num_labels', 'vocabulary_size', 'parameters', 'threshold'})
    summary['model']['members'] = [
        {**member.model_dump(include={'seed', 'epochs_run', 'best_epoch'}),
         'best_val_micro_f1': member.best_val_micro_f1} for member in record.members]
    summary['model']['training_curves'] = sorted(
        run_records.curve_path(model_run.uri, curve) for curve in run_records.CURVES)
  evaluation_artifact = artifact(definition.EVALUATOR, specs.EVALUATION_KEY)
  if evaluation_artifact:
    summary['test_metrics'] = evaluation.load_overall_metrics(evaluation_artifact.uri)
  blessing = artifact(definition.EVALUATOR, specs.BLESSING_KEY)
  if blessing:
    summary['blessed'] = bool(custom_property(blessing, 'blessed'))
  pushed = artifact(definition.PUSHER, specs.PUSHED_MODEL_KEY)
  if pushed:
    summary['pushed'] = bool(custom_property(pushed, 'pushed'))
    summary['pushed_model_path'] = custom_property(pushed, 'pushed_destination') or None
  return summary


def write(summary: Dict[str, Any], output_root: str) -> str:
  path = os.path.join(output_root, SUMMARY_FILE)
  with open(path, 'w', encoding='utf-8') as f:
    json.dump(summary, f, indent=2)
  return path


def format_summary(summary: Dict[str, Any]) -> str:
  """The summary as lines a person reads at the end of a run."""
  lines = [f'Run {summary["run_id"]} of {summary["pipeline_name"]}']
  data = summary.get('data')
  if data:
    lines.append(f'  rows read {data["rows_read"]:,}, kept {data["rows_kept"]:,}, dropped '
                 f'{sum(data["rows_dropped"].values()):,} '
                 f'({formatting.dropped(data["rows_dropped"])})')
    for reason, examples in data['dropped_examples'].items():
      first = examples[0]
      lines.append(f'    first {reason}: {first["file"]} record {first["record"]:,}, '
                   f'{first["detail"][:120]}')
    lines.append('  split sizes ' + formatting.split_sizes(data['split_sizes']))
    if data['spans']:
      lines.append('  spans ' + formatting.months(data['spans']))
  if 'anomalies' in summary:
    lines.append('  schema anomalies: ' + (json.dumps(summary['anomalies'])
                                           if summary['anomalies'] else 'none'))
  check = summary.get('data_check')
  if check:
    lines.append('  drift of test from train: ' + ', '.join(
        data_gate.describe(name, d) for name, d in check['drift'].items()) +
                 f'; data check: {check["verdict"]}')
    lines.extend(f'    {problem}' for problem in check['problems'])
  model = summary.get('model')
  if model:
    lines.append('  ' + formatting.training(
        model['members'], model['num_labels'], model['vocabulary_size'], model['parameters'],
        model['threshold']))
  metrics = summary.get('test_metrics')
  if metrics:
    lines.append('  test ' + ', '.join(
        f'{name} {formatting.number(metrics[name])}'
        for name in HEADLINE_METRICS if name in metrics))
  if 'blessed' in summary:
    lines.append(f'  blessed: {"yes" if summary["blessed"] else "no"}; pushed: ' +
                 (summary['pushed_model_path'] if summary.get('pushed') else 'no'))
  return '\n'.join(lines)


def component_line(summary: Dict[str, Any], node: str) -> str:
  """One finished component for the terminal: name, wall time, state, key figure."""
  component = summary['components'].get(node, {'state': 'UNKNOWN', 'wall_seconds': 0.0})
  state = '' if component['state'] == 'COMPLETE' else f' ({component["state"].lower()})'
  figure = _key_figure(summary, node)
  return (f'{node:<30} {component["wall_seconds"]:7.1f} s{state}' +
          (f'  {figure}' if figure else ''))


def _key_figure(summary: Dict[str, Any], node: str) -> str:
  data, model = summary.get('data'), summary.get('model')
  if node == definition.EXAMPLE_GEN and data:
    dropped = sum(data['rows_dropped'].values())
    return (f'{data["rows_kept"]:,} papers kept of {data["rows_read"]:,} ({dropped:,} '
            'dropped); ' + formatting.split_sizes(data['split_sizes']))
  if node == definition.EXAMPLE_VALIDATOR and 'anomalies' in summary:
    return f'schema anomalies: {len(summary["anomalies"]) or "none"}'
  if node == definition.DATA_GATE and summary.get('data_check'):
    check = summary['data_check']
    return f'data check: {check["verdict"]}' + (
        f' ({len(check["problems"])} problems)' if check['problems'] else '')
  if node == definition.TRANSFORM and summary.get('vocabularies'):
    counts = summary['vocabularies']
    return (f'vocabulary {counts[features.NGRAM_VOCABULARY]:,} n-grams, '
            f'{counts[features.LABEL_VOCABULARY]:,} labels')
  if node == definition.TRAINER and model:
    return '; '.join(f'{m["epochs_run"]} epochs, best {m["best_epoch"]} '
                     f'(eval micro-F1 {m["best_val_micro_f1"]:.3f} at 0.5)'
                     for m in model['members'])
  if node == definition.EVALUATOR and 'test_metrics' in summary:
    return (f'test micro-F1 {summary["test_metrics"].get("micro_f1", float("nan")):.3f}; ' +
            ('blessed' if summary.get('blessed') else 'not blessed'))
  if node == definition.PUSHER and 'pushed' in summary:
    return f'pushed {summary["pushed_model_path"]}' if summary['pushed'] else 'not pushed'
  return ''


def file_name(run_id: str) -> str:
  """A run id as a file or directory name (no colons)."""
  return run_id.replace(':', '-')


def node_id(store, execution: metadata_store_pb2.Execution, pipeline_name: str) -> str:
  prefix = f'{pipeline_name}.'
  for context in store.get_contexts_by_execution(execution.id):
    if context.name.startswith(prefix):
      return context.name[len(prefix):]
  return execution.type


def _output_artifacts(store, execution_id: int) -> Dict[str, List[metadata_store_pb2.Artifact]]:
  events = [e for e in store.get_events_by_execution_ids([execution_id])
            if e.type in (metadata_store_pb2.Event.OUTPUT,
                          metadata_store_pb2.Event.DECLARED_OUTPUT)]
  artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
  by_key: Dict[str, List[metadata_store_pb2.Artifact]] = {}
  for event in events:
    by_key.setdefault(event.path.steps[0].key, []).append(artifacts[event.artifact_id])
  return by_key


def custom_property(artifact: metadata_store_pb2.Artifact, name: str) -> Any:
  value = artifact.custom_properties.get(name)
  if value is None:
    return None
  return getattr(value, value.WhichOneof('value'))


def _read_json(path: str) -> Dict[str, Any]:
  with open(path, encoding='utf-8') as f:
    return json.load(f)
