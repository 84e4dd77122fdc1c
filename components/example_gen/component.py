"""ArxivExampleGen component definition.

TFX's CsvExampleGen cannot do what this data needs: quoted multi-line abstracts,
`terms` parsed into a label list, duplicate titles and rare label combinations
dropped and counted, and a split stratified on the label combination. This
component does all of it in Beam and records every dropped row in a DataReport.
"""

from typing import Union

from tfx import types
from tfx.dsl.components.base import base_beam_component
from tfx.dsl.components.base import executor_spec
from tfx.orchestration import data_types
from tfx.types import component_spec
from tfx.types import standard_artifacts

from components.example_gen import driver
from components.example_gen import executor


class DataReport(types.Artifact):
  """JSON counts of rows read, dropped (by reason), kept per split, per label."""
  TYPE_NAME = 'arxiv.DataReport'  # <namespace>.<Name>, as Kubeflow's compiler requires.


class ArxivExampleGenSpec(types.ComponentSpec):
  PARAMETERS = {
      executor.INPUT_PATTERN_KEY: component_spec.ExecutionParameter(type=str),
      executor.SEED_KEY: component_spec.ExecutionParameter(type=int),
      executor.EVAL_FRACTION_KEY: component_spec.ExecutionParameter(type=float),
      executor.TEST_FRACTION_KEY: component_spec.ExecutionParameter(type=float),
      executor.MIN_COMBINATION_COUNT_KEY: component_spec.ExecutionParameter(type=int),
      executor.LAST_SPAN_KEY: component_spec.ExecutionParameter(type=str, optional=True),
      executor.WINDOW_SPANS_KEY: component_spec.ExecutionParameter(type=int, optional=True),
      executor.EVAL_MONTH_FRACTION_KEY: component_spec.ExecutionParameter(
          type=float, optional=True),
  }
  INPUTS = {}
  OUTPUTS = {
      executor.EXAMPLES_KEY: component_spec.ChannelParameter(
          type=standard_artifacts.Examples),
      executor.DATA_REPORT_KEY: component_spec.ChannelParameter(type=DataReport),
  }


class ArxivExampleGen(base_beam_component.BaseBeamComponent):
  """Outputs `examples` (splits train / eval / test) and a `data_report`.

  `input_pattern` is a path or glob (one data set, split at random), or a span
  pattern such as `data/monthly/arxiv_cs_{YYYY}-{MM}.csv.gz` (split by time: the
  newest span of the window is `test`, see `executor`). For spans, `last_span`
  ('' = the newest) and `window_spans` (0 = all) choose the window.
  """

  SPEC_CLASS = ArxivExampleGenSpec
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)
  DRIVER_CLASS = driver.InputFingerprintDriver

  def __init__(self,
               input_pattern: Union[str, data_types.RuntimeParameter],
               seed: int,
               eval_fraction: float,
               test_fraction: float,
               min_combination_count: int = 2,
               last_span: Union[str, data_types.RuntimeParameter] = '',
               window_spans: int = 0,
               eval_month_fraction: float = 0.5):
    super().__init__(spec=ArxivExampleGenSpec(
        input_pattern=input_pattern,
        seed=seed,
        eval_fraction=eval_fraction,
        test_fraction=test_fraction,
        min_combination_count=min_combination_count,
        last_span=last_span,
        window_spans=window_spans,
        eval_month_fraction=eval_month_fraction,
        examples=types.Channel(type=standard_artifacts.Examples),
        data_report=types.Channel(type=DataReport)))
