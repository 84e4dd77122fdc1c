"""Driver of ArxivExampleGen: fingerprints the input files before caching is decided.

TFX caches an execution on its parameters. The input pattern alone would let a
rerun reuse stale examples after the CSV changed; adding the files' fingerprint
(count, size and modification times, as TFX's own file-based ExampleGen does)
makes a changed input run ExampleGen again.
"""

from tfx.components.example_gen import utils as example_gen_utils
from tfx.dsl.components.base import base_driver
from tfx.orchestration.portable import data_types
from tfx.orchestration import data_types_utils
from tfx.proto.orchestration import driver_output_pb2
from tfx.utils import io_utils

from components.example_gen import executor

FINGERPRINT_KEY = example_gen_utils.FINGERPRINT_PROPERTY_NAME


class InputFingerprintDriver(base_driver.BaseDriver):

  def run(self, execution_info: data_types.ExecutionInfo) -> driver_output_pb2.DriverOutput:
    pattern = execution_info.exec_properties[executor.INPUT_PATTERN_KEY]
    output = driver_output_pb2.DriverOutput()
    data_types_utils.set_metadata_value(output.exec_properties[FINGERPRINT_KEY],
                                    io_utils.generate_fingerprint('input', pattern))
    return output
