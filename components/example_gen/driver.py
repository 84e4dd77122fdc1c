"""Driver of ArxivExampleGen: fingerprints the input files before caching is decided.

TFX caches an execution on its parameters. The input pattern alone would let a
rerun reuse stale examples after the CSV changed, or after a new month landed;
adding the fingerprint (count, size and modification times, as TFX's own
file-based ExampleGen does) of the files the run will read (for spans, those of
the window) makes a changed input run ExampleGen again, and leaves a run whose
window did not change a cache hit.

Like TFX's driver, which writes the span it resolved into the execution, this one
replaces an empty `last_span` ("the newest") by the span it stands for, so that a run
pinned to that span later (`--last-span 2026-03`) is the same execution, and a cache
hit, once newer months have landed.
"""

from tfx.components.example_gen import utils as example_gen_utils
from tfx.dsl.components.base import base_driver
from tfx.orchestration.portable import data_types
from tfx.orchestration import data_types_utils
from tfx.proto.orchestration import driver_output_pb2

from components.example_gen import executor

FINGERPRINT_KEY = example_gen_utils.FINGERPRINT_PROPERTY_NAME


class InputFingerprintDriver(base_driver.BaseDriver):

  def run(self, execution_info: data_types.ExecutionInfo) -> driver_output_pb2.DriverOutput:
    properties = execution_info.exec_properties
    window = executor.resolve_input(properties[executor.INPUT_PATTERN_KEY], properties)
    output = driver_output_pb2.DriverOutput()
    data_types_utils.set_metadata_value(output.exec_properties[FINGERPRINT_KEY],
                                        executor.input_fingerprint(window))
    if window.span_names:
      data_types_utils.set_metadata_value(output.exec_properties[executor.LAST_SPAN_KEY],
                                          window.span_names[-1])
    return output
