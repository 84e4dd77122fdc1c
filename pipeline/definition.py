"""The TFX pipeline definition: `create_pipeline` wires the components, nothing more."""

import json
from typing import Dict, Optional

from google.protobuf import json_format
from ml_metadata.proto import metadata_store_pb2
import tensorflow_data_validation as tfdv
from tfx import v1 as tfx

from components import data_gate
from components import evaluation
from components import features
from components import pusher as pusher_lib
from components import settings
from components.example_gen.component import ArxivExampleGen
from pipeline.config import PipelineConfig, PREPROCESSING_FN, RUN_FN


# Node ids: the names under which each component's runs and outputs are found in ML
# Metadata, under the pipeline root, in a compiled spec's tasks and for --stop-after.
# The run summary, the report and the benchmarks look components up by these.
EXAMPLE_GEN = 'ArxivExampleGen'
STATISTICS_GEN = 'StatisticsGen'
SCHEMA_IMPORTER = 'ImportSchemaGen'
EXAMPLE_VALIDATOR = 'ExampleValidator'
DATA_GATE = 'DataGate'
TRANSFORM = 'Transform'
TRAINER = 'Trainer'
LATEST_BLESSED_MODEL_RESOLVER = 'latest_blessed_model_resolver'
EVALUATOR = 'Evaluator'
PUSHER = 'Pusher'

# What an operator changes between runs of a compiled pipeline, without recompiling:
# the input, the Trainer's settings (epochs, batch size, ...) as JSON, and the TFMA
# EvalConfig as JSON (the blessing thresholds). Their defaults come from the config.
RUNTIME_PARAMETERS = ('data_path', 'trainer_settings', 'eval_config')


def runtime_parameter_defaults(config: PipelineConfig) -> Dict[str, str]:
  """RUNTIME_PARAMETERS' values for `config`, as the strings a compiled pipeline takes."""
  return dict(zip(RUNTIME_PARAMETERS, (
      config.data_path,
      json.dumps(settings.to_custom_config(config.trainer)),
      json_format.MessageToJson(evaluation.eval_config(
          config.min_micro_f1, config.max_micro_f1_regression, config.beat_label_priors)))))


def create_pipeline(
    config: PipelineConfig,
    metadata_connection_config: Optional[metadata_store_pb2.ConnectionConfig] = None,
    runtime_parameters: bool = False,
    compare_with_latest_blessed: bool = True,
) -> tfx.dsl.Pipeline:
  """ExampleGen -> statistics, schema, validation -> data gate -> Transform -> Trainer
  -> Evaluator -> Pusher. With `runtime_parameters`, RUNTIME_PARAMETERS become
  pipeline parameters. Without `compare_with_latest_blessed` there is no resolver
  node (Kubeflow Pipelines' v2 backend runs none): the Evaluator blesses on the
  absolute micro-F1 threshold alone."""
  data_path = config.data_path
  trainer_settings = settings.to_custom_config(config.trainer)
  eval_config = evaluation.eval_config(config.min_micro_f1, config.max_micro_f1_regression,
                                       config.beat_label_priors)
  if runtime_parameters:
    data_path, trainer_settings, eval_config = (
        tfx.dsl.experimental.RuntimeParameter(name=name, ptype=str, default=default)
        for name, default in runtime_parameter_defaults(config).items())

  example_gen = ArxivExampleGen(
      input_pattern=data_path,
      seed=config.seed,
      eval_fraction=config.eval_fraction,
      test_fraction=config.test_fraction,
      min_combination_count=config.min_combination_count,
      last_span=config.last_span,
      window_spans=config.window_spans,
      eval_month_fraction=config.eval_month_fraction).with_id(EXAMPLE_GEN)

  schema_importer = tfx.components.ImportSchemaGen(
      schema_file=config.schema_path).with_id(SCHEMA_IMPORTER)

  # With the schema, the statistics treat title and abstract as free text (not
  # categorical: no top values that are whole abstracts); TFDV's sketch-based top-k
  # is the generator that honours that (the default one ignores it). The labels'
  # counts are exact either way: far fewer distinct labels than the sketch holds.
  statistics_gen = tfx.components.StatisticsGen(
      examples=example_gen.outputs['examples'],
      schema=schema_importer.outputs['schema'],
      stats_options=tfdv.StatsOptions(use_sketch_based_topk_uniques=True),
  ).with_id(STATISTICS_GEN)

  example_validator = tfx.components.ExampleValidator(
      statistics=statistics_gen.outputs['statistics'],
      schema=schema_importer.outputs['schema']).with_id(EXAMPLE_VALIDATOR)

  gate = data_gate.DataGate(
      statistics=statistics_gen.outputs['statistics'],
      schema=schema_importer.outputs['schema'],
      anomalies=example_validator.outputs['anomalies'],
      data_report=example_gen.outputs['data_report'],
      on_problem=config.on_data_problem,
      max_length_divergence=config.max_length_divergence,
      max_vocabulary_divergence=config.max_vocabulary_divergence,
      min_label_count=config.transform.min_label_count).with_id(DATA_GATE)

  transform = tfx.components.Transform(
      examples=example_gen.outputs['examples'],
      schema=schema_importer.outputs['schema'],
      preprocessing_fn=PREPROCESSING_FN,
      splits_config=tfx.proto.SplitsConfig(
          analyze=[features.TRAIN_SPLIT], transform=list(features.SPLITS)),
      # StatisticsGen already describes the raw data; statistics of the hundreds of
      # n-gram ids per example would cost Transform much time for nothing anyone
      # reads.
      disable_statistics=True,
      custom_config=settings.to_custom_config(config.transform)).with_id(TRANSFORM)
  # Transform waits for the data check, which ends the run when set to stop.
  transform.add_upstream_node(gate)

  trainer = tfx.components.Trainer(
      run_fn=RUN_FN,
      examples=transform.outputs['transformed_examples'],
      transform_graph=transform.outputs['transform_graph'],
      schema=schema_importer.outputs['schema'],
      train_args=tfx.proto.TrainArgs(splits=[features.TRAIN_SPLIT]),
      eval_args=tfx.proto.EvalArgs(splits=[features.EVAL_SPLIT]),
      custom_config=trainer_settings).with_id(TRAINER)

  latest_blessed_model = tfx.dsl.Resolver(
      strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
      model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
      model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
  ).with_id(LATEST_BLESSED_MODEL_RESOLVER) if compare_with_latest_blessed else None

  evaluator = tfx.components.Evaluator(
      examples=example_gen.outputs['examples'],
      model=trainer.outputs['model'],
      baseline_model=latest_blessed_model.outputs['model'] if latest_blessed_model else None,
      example_splits=[features.TEST_SPLIT],
      eval_config=eval_config).with_id(EVALUATOR)

  pusher = pusher_lib.Pusher(
      model=trainer.outputs['model'],
      model_blessing=evaluator.outputs['blessing'],
      push_destination=tfx.proto.PushDestination(
          filesystem=tfx.proto.PushDestination.Filesystem(
              base_directory=config.serving_model_dir))).with_id(PUSHER)

  return tfx.dsl.Pipeline(
      pipeline_name=config.pipeline_name,
      pipeline_root=config.pipeline_root,
      components=[component for component in (
          example_gen, statistics_gen, schema_importer, example_validator, gate, transform,
          trainer, latest_blessed_model, evaluator, pusher) if component],
      enable_cache=config.enable_cache,
      metadata_connection_config=metadata_connection_config,
      beam_pipeline_args=list(config.beam_pipeline_args))
