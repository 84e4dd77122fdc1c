"""What the pipeline's ML Metadata knows about its models, for the notebook
(`notebooks/evaluation.ipynb`).

The question an operator asks of a model in production: which run trained it, on
which examples, of which months, with which schema and transform. TFX records it
as events (an execution read these artifacts, wrote those); `pushed_model_lineage`
walks them upstream from the newest pushed model. `evaluations` lists the
Evaluator's results run after run, for TFMA's time series.
"""

import dataclasses
import os
from typing import Any, Dict, List

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.view import view_types
from tensorflow_model_analysis.writers import eval_config_writer

from pipeline import run_summary
from pipeline.config import PipelineConfig


@dataclasses.dataclass(frozen=True)
class Ancestor:
  """One artifact upstream of the pushed model, and the component that wrote it."""
  depth: int  # Executions between it and the pushed model: 0 is the pushed model.
  artifact_type: str
  produced_by: str
  uri: str
  properties: Dict[str, Any]


def pushed_model_lineage(config: PipelineConfig) -> List[Ancestor]:
  """The newest pushed model and every artifact it was made from, nearest first."""
  store = metadata_store.MetadataStore(config.metadata_connection_config())
  pushed = [a for a in store.get_artifacts_by_type('PushedModel')
            if run_summary.custom_property(a, 'pushed')]
  if not pushed:
    raise LookupError(f'no pushed model in {config.metadata_path}')
  newest = max(pushed, key=lambda artifact: artifact.id)
  ancestors, seen, frontier, depth = [], {newest.id}, [newest], 0
  while frontier:
    ancestors += [_ancestor(store, config, artifact, depth) for artifact in frontier]
    frontier = [a for a in _inputs_of_producers(store, [a.id for a in frontier])
                if a.id not in seen]
    seen.update(a.id for a in frontier)
    depth += 1
  return ancestors


def evaluations(config: PipelineConfig) -> view_types.EvalResults:
  """The candidate model's TFMA results of every evaluation, oldest first (a rerun
  that found the model cached evaluates it again, and is one more point)."""
  store = metadata_store.MetadataStore(config.metadata_connection_config())
  results = []
  for artifact in sorted(store.get_artifacts_by_type('ModelEvaluation'), key=lambda a: a.id):
    if not os.path.exists(os.path.join(artifact.uri, 'eval_config.json')):
      continue  # An evaluation that did not finish.
    # The model is 'candidate' where a baseline was compared, '' where none was. (Not
    # `tfma.load_eval_results`: 0.47 keeps the first path's model name for the rest.)
    locations = eval_config_writer.load_eval_run(artifact.uri)[3]
    model_name = 'candidate' if 'candidate' in locations else ''
    results.append(tfma.load_eval_result(artifact.uri, model_name=model_name))
  return tfma.make_eval_results(results, tfma.constants.MODEL_CENTRIC_MODE)


def _inputs_of_producers(store, artifact_ids: List[int]) -> List[metadata_store_pb2.Artifact]:
  """What the executions that wrote these artifacts read."""
  producers = {e.execution_id for e in store.get_events_by_artifact_ids(artifact_ids)
               if e.type in (metadata_store_pb2.Event.OUTPUT,
                             metadata_store_pb2.Event.DECLARED_OUTPUT)}
  inputs = sorted({e.artifact_id for e in store.get_events_by_execution_ids(list(producers))
                   if e.type in (metadata_store_pb2.Event.INPUT,
                                 metadata_store_pb2.Event.DECLARED_INPUT)})
  return store.get_artifacts_by_id(inputs)


def _ancestor(store, config: PipelineConfig, artifact: metadata_store_pb2.Artifact,
              depth: int) -> Ancestor:
  [artifact_type] = store.get_artifact_types_by_id([artifact.type_id])
  producers = [e.execution_id for e in store.get_events_by_artifact_ids([artifact.id])
               if e.type in (metadata_store_pb2.Event.OUTPUT,
                             metadata_store_pb2.Event.DECLARED_OUTPUT)]
  # A cached component records its outputs again, run after run: one name each.
  produced_by = ', '.join(sorted({run_summary.node_id(store, execution, config.pipeline_name)
                                  for execution in store.get_executions_by_id(producers)}))
  properties = {name: run_summary.custom_property(artifact, name)
                for name in artifact.custom_properties
                if not name.startswith('__') and name not in ('state', 'tfx_version')}
  properties.update({name: getattr(value, value.WhichOneof('value'))
                     for name, value in artifact.properties.items()})
  return Ancestor(depth, artifact_type.name, produced_by, artifact.uri, properties)
