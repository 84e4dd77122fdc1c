"""The node ids and output keys that readers of a run look components up by."""

from components import data_gate
from components.example_gen import executor as example_gen_executor
from pipeline import definition
from pipeline.config import PipelineConfig


def test_the_pipeline_wires_its_components_under_the_defined_ids():
  ids = {component.id for component in definition.create_pipeline(PipelineConfig()).components}
  assert ids == {
      definition.EXAMPLE_GEN, definition.STATISTICS_GEN, definition.SCHEMA_IMPORTER,
      definition.EXAMPLE_VALIDATOR, definition.DATA_GATE, definition.TRANSFORM,
      definition.TRAINER, definition.LATEST_BLESSED_MODEL_RESOLVER, definition.EVALUATOR,
      definition.PUSHER}
  without_resolver = definition.create_pipeline(PipelineConfig(),
                                                compare_with_latest_blessed=False)
  assert definition.LATEST_BLESSED_MODEL_RESOLVER not in [
      component.id for component in without_resolver.components]


def test_output_keys_that_readers_use_are_the_components_outputs():
  pipeline = definition.create_pipeline(PipelineConfig())
  outputs = {component.id: set(component.outputs) for component in pipeline.components}
  assert {example_gen_executor.EXAMPLES_KEY, example_gen_executor.DATA_REPORT_KEY} <= (
      outputs[definition.EXAMPLE_GEN])
  assert outputs[definition.DATA_GATE] == {data_gate.DATA_CHECK_KEY}
