"""TensorFlow Serving's REST API as data: paths and predict requests checked, responses built.

Kept apart from the HTTP server so that every rule here is a plain function with a
test (tests/test_serving_protocol.py). It follows TF Serving's REST documentation
(tensorflow.org/tfx/serving/api_rest) and its JSON rules: row ("instances") and
columnar ("inputs") requests, `{"b64": ...}` for bytes, `signature_name` absent or
"" for the default signature, unknown top-level keys ignored, a lone output's name
left out of the response. Deliberate differences, where TF Serving's behaviour cannot
apply to a text model:
- `title` may be left out of the text signatures' inputs (it is then empty);
- text inputs must be valid UTF-8 (a JSON lone surrogate is refused, not a 500),
  `abstract` must not be blank, and batches and texts have size limits (413).
"""

import base64
import binascii
import dataclasses
import json
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2

from components import features

TEXT_INPUTS = (features.ABSTRACT_KEY, features.TITLE_KEY)
OPTIONAL_INPUTS = (features.TITLE_KEY,)
# TF Serving's REST paths: /v1/models/<name>[/versions/<n> | /labels/<label>][:predict | /metadata]
MODEL_PATH = re.compile(
    r'/v1/models/(?P<name>[^/:]+)'
    r'(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?'
    r'(?P<suffix>/metadata|:[a-z]+)?')
PREDICT, METADATA, STATUS = ':predict', '/metadata', ''


class RequestError(Exception):
  """A request refused, with its HTTP status and a message for the client."""

  def __init__(self, status: int, message: str):
    super().__init__(message)
    self.status = status


@dataclasses.dataclass(frozen=True)
class ModelPath:
  name: str
  version: Optional[int]  # None: the version being served.
  action: str  # PREDICT, METADATA or STATUS


def parse_model_path(path: str) -> Optional[ModelPath]:
  """A /v1/models/... path, None for any other path, or RequestError if malformed."""
  match = MODEL_PATH.fullmatch(path)
  if not match:
    return None
  name, version, label, suffix = match.group('name', 'version', 'label', 'suffix')
  if label is not None:
    raise RequestError(404, f'version label {shorten(label)!r} is not defined; this server '
                       'has no version labels: use /versions/<n> or no version')
  if version is not None and not is_ascii_number(version):
    raise RequestError(400, f'version {shorten(version)!r} is not a number')
  if suffix not in (None, PREDICT, METADATA):
    raise RequestError(400, f'{shorten(suffix)} is not supported; this model serves '
                       ':predict (it has no classify or regress signature)')
  return ModelPath(name, None if version is None else int(version), suffix or STATUS)


def is_ascii_number(text: str) -> bool:
  """Digits 0-9 only: `str.isdigit` also takes '²', which `int` refuses."""
  return text.isascii() and text.isdigit()


@dataclasses.dataclass(frozen=True)
class Limits:
  max_batch_size: int
  max_text_chars: int
  # Signatures that take fewer inputs per request than max_batch_size: {name: most}.
  signature_batch_sizes: Mapping[str, int] = dataclasses.field(default_factory=dict)

  def for_signature(self, name: str) -> 'Limits':
    """These limits, with the batch size that signature takes."""
    return dataclasses.replace(
        self, max_batch_size=min(self.max_batch_size,
                                 self.signature_batch_sizes.get(name, self.max_batch_size)))


@dataclasses.dataclass(frozen=True)
class PredictRequest:
  signature_name: str
  inputs: Dict[str, list]  # One list of values per input, all of the batch's length.
  row_format: bool

  @property
  def batch_size(self) -> int:
    return len(next(iter(self.inputs.values()))) if self.inputs else 0


def parse_predict(body: bytes, signatures: Mapping[str, Mapping[str, tf.TensorSpec]],
                  limits: Limits) -> PredictRequest:
  """A predict request for one of `signatures` ({name: {input: spec}}), or RequestError."""
  try:
    request = json.loads(body)
  except (UnicodeDecodeError, ValueError) as error:  # Bad JSON; an integer over 4,300 digits.
    raise RequestError(400, f'the request body is not valid JSON: {error}') from None
  except RecursionError:
    raise RequestError(400, 'the request body nests too deeply') from None
  if not isinstance(request, dict):
    raise RequestError(400, 'the request body must be a JSON object with "instances" or '
                       f'"inputs"; got {json_type(request)}')
  signature_name = request.get('signature_name') or features.SERVING_SIGNATURE
  if not isinstance(signature_name, str) or signature_name not in signatures:
    raise RequestError(400, f'signature_name {shorten(str(signature_name))!r} is not one of '
                       f'this model\'s: {", ".join(sorted(signatures))}')
  if ('instances' in request) == ('inputs' in request):
    raise RequestError(400, 'the request needs exactly one of "instances" (row format) or '
                       '"inputs" (columnar format)')
  specs = signatures[signature_name]
  limits = limits.for_signature(signature_name)
  row_format = 'instances' in request
  if row_format:
    columns = _instance_columns(request['instances'], specs, limits)
  else:
    columns = _input_columns(request['inputs'], specs, limits)
  inputs = {name: [_value(value, name, specs[name], where, limits) for value, where in column]
            for name, column in columns.items()}
  if features.ABSTRACT_KEY in inputs and features.ABSTRACT_KEY in specs:
    for (_, where), abstract in zip(columns[features.ABSTRACT_KEY],
                                    inputs[features.ABSTRACT_KEY]):
      if not abstract.strip():
        raise RequestError(400, f'{where} is empty')
  return PredictRequest(signature_name, inputs, row_format)


Column = List[Tuple[Any, str]]  # (JSON value, where it is in the request)


def _check_batch_size(count: int, limits: Limits) -> None:
  if count == 0:
    raise RequestError(400, 'the request holds no input')
  if count > limits.max_batch_size:
    raise RequestError(413, f'the request holds {count} inputs; at most '
                       f'{limits.max_batch_size} per request to this signature')


def _instance_columns(instances: Any, specs: Mapping[str, tf.TensorSpec],
                      limits: Limits) -> Dict[str, Column]:
  """Row format -> one column per input."""
  if not isinstance(instances, list):
    raise RequestError(400, '"instances" must be a list')
  if not specs:
    raise RequestError(400, 'this signature takes no input: send {"inputs": {}}')
  _check_batch_size(len(instances), limits)
  (only, *others) = specs
  columns: Dict[str, Column] = {name: [] for name in specs}
  for i, instance in enumerate(instances):
    where = f'instances[{i}]'
    if not others and not _is_named(instance, specs):
      columns[only].append((instance, where))  # One input: bare values.
      continue
    if not isinstance(instance, dict):
      raise RequestError(400, f'{where} must be an object with {_names(specs)}; got '
                         f'{json_type(instance)}')
    _check_names(instance, specs, where)
    for name in specs:  # Only optional inputs may be absent: _check_names saw to that.
      columns[name].append((instance.get(name, ''), f'{where}.{name}'))
  return columns


def _input_columns(inputs: Any, specs: Mapping[str, tf.TensorSpec],
                   limits: Limits) -> Dict[str, Column]:
  """Columnar format -> one column per input; a lone value is a batch of one."""
  if not specs:
    if inputs != {}:
      raise RequestError(400, 'this signature takes no input: send {"inputs": {}}')
    return {}
  (only, *others) = specs
  if not others and not _is_named(inputs, specs):
    inputs = {only: inputs}  # One input: its values directly.
  if not isinstance(inputs, dict):
    raise RequestError(400, f'"inputs" must be an object with {_names(specs)}')
  _check_names(inputs, specs, 'inputs')
  columns = {}
  for name in specs:
    if name not in inputs:
      continue
    values = inputs[name]
    values = values if isinstance(values, list) else [values]
    columns[name] = [(value, f'inputs.{name}[{i}]') for i, value in enumerate(values)]
  count = len(next(iter(columns.values())))
  _check_batch_size(count, limits)
  for name, column in columns.items():
    if len(column) != count:
      raise RequestError(400, f'inputs.{name} has {len(column)} values but '
                         f'inputs.{next(iter(columns))} has {count}')
  for name in set(specs) - set(columns):  # Only optional ones: _check_names saw to that.
    columns[name] = [('', f'inputs.{name}[{i}]') for i in range(count)]
  return columns


def _is_named(value: Any, specs: Mapping[str, tf.TensorSpec]) -> bool:
  """Whether a one-input request names its input ({"examples": [...]}) rather than
  giving values ([...], or a {"b64": ...} value)."""
  return isinstance(value, dict) and set(value) != {'b64'} and bool(set(value) & set(specs))


def _check_names(value: Dict[str, Any], specs: Mapping[str, tf.TensorSpec], where: str) -> None:
  unknown = sorted(set(value) - set(specs))
  if unknown:
    raise RequestError(400, f'{where} has unknown keys {", ".join(map(repr, unknown))}; '
                       f'the inputs are {_names(specs)}')
  missing = [name for name in specs if name not in value and name not in OPTIONAL_INPUTS]
  if missing:
    raise RequestError(400, f'{where} has no {", ".join(map(repr, missing))}')


def _names(specs: Mapping[str, tf.TensorSpec]) -> str:
  return ', '.join(f'"{name}"' for name in specs)


def _value(value: Any, name: str, spec: tf.TensorSpec, where: str, limits: Limits) -> Any:
  """One JSON value of input `name` as its dtype wants it: str for text, bytes for
  other strings, numbers as they are."""
  if spec.dtype != tf.string:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
      raise RequestError(400, f'{where} must be a number ({spec.dtype.name}); got '
                         f'{json_type(value)}')
    return value
  text = name in TEXT_INPUTS
  if isinstance(value, dict) and set(value) == {'b64'} and isinstance(value['b64'], str):
    try:
      value = base64.b64decode(value['b64'], validate=True)
    except (binascii.Error, ValueError):
      raise RequestError(400, f'{where}.b64 is not valid base64') from None
    if not text:
      return value
    try:
      value = value.decode('utf-8')
    except UnicodeDecodeError:
      raise RequestError(400, f'{where}.b64 is not UTF-8 text') from None
  if not isinstance(value, str):
    raise RequestError(400, f'{where} must be a string or {{"b64": ...}}; got '
                       f'{json_type(value)}')
  try:
    value.encode('utf-8')
  except UnicodeEncodeError:
    raise RequestError(400, f'{where} is not valid text: it holds a lone surrogate '
                       '(an unpaired \\ud800-\\udfff escape)') from None
  if len(value) > limits.max_text_chars:
    raise RequestError(413, f'{where} has {len(value):,} characters; at most '
                       f'{limits.max_text_chars:,}')
  return value if text else value.encode('utf-8')


def json_type(value: Any) -> str:
  return {dict: 'an object', list: 'a list', str: 'a string', bool: 'a boolean',
          type(None): 'null'}.get(type(value), 'a number')


def shorten(text: str, limit: int = 80) -> str:
  return text if len(text) <= limit else text[:limit] + '…'


def predict_response(outputs: Dict[str, np.ndarray], row_format: bool,
                     batch_size: int) -> Dict[str, Any]:
  """TF Serving's response: per-row objects ("predictions") or one value per output
  ("outputs"); a lone output without its name, as TF Serving does."""
  columns = {name: _to_json(values) for name, values in outputs.items()}
  if not row_format:
    return {'outputs': next(iter(columns.values())) if len(columns) == 1 else columns}
  ragged = [name for name, values in outputs.items()
            if not values.shape or values.shape[0] != batch_size]
  if ragged:
    raise RequestError(400, f'output {ragged[0]!r} is not one value per input; ask in the '
                       'columnar format ("inputs")')
  if len(columns) == 1:
    return {'predictions': next(iter(columns.values()))}
  return {'predictions': [{name: values[i] for name, values in columns.items()}
                          for i in range(batch_size)]}


def _to_json(values: np.ndarray) -> Any:
  if values.dtype.kind in ('S', 'O'):
    return np.vectorize(_text_or_b64, otypes=[object])(values).tolist()
  return values.tolist()


def _text_or_b64(value: bytes) -> Any:
  try:
    return value.decode('utf-8')
  except UnicodeDecodeError:
    return {'b64': base64.b64encode(value).decode('ascii')}


def status_response(versions: List[Dict[str, Any]], model_name: str,
                    version: Optional[int]) -> Dict[str, Any]:
  """TF Serving's GetModelStatus: every version, or the one asked for (404 if unknown)."""
  if version is not None:
    versions = [state for state in versions if state['version'] == str(version)]
    if not versions:
      raise RequestError(404, f'could not find version {version} of model {model_name!r}')
  return {'model_version_status': versions}


def version_status(version: int, state: str, code: str, message: str) -> Dict[str, Any]:
  return {'version': str(version), 'state': state,
          'status': {'error_code': code, 'error_message': message}}


def _tensor_info(name: str, spec) -> Dict[str, Any]:
  dims = ([] if spec.shape.rank is None else
          [{'size': str(-1 if d is None else d), 'name': ''} for d in spec.shape.as_list()])
  return {'dtype': types_pb2.DataType.Name(spec.dtype.as_datatype_enum), 'name': name,
          'tensor_shape': {'dim': dims, 'unknown_rank': spec.shape.rank is None}}


def metadata_response(model_name: str, version: int, signatures) -> Dict[str, Any]:
  """TF Serving's GetModelMetadata: every signature with its inputs and outputs."""
  return {
      'model_spec': {'name': model_name, 'signature_name': '', 'version': str(version)},
      'metadata': {'signature_def': {
          'signature_def': {
              name: {
                  'inputs': {key: _tensor_info(key, spec) for key, spec in
                             signature.structured_input_signature[1].items()},
                  'outputs': {key: _tensor_info(key, tensor) for key, tensor in
                              signature.structured_outputs.items()},
                  'method_name': 'tensorflow/serving/predict',
              } for name, signature in sorted(signatures.items())},
          '@type': 'type.googleapis.com/tensorflow.serving.SignatureDefMap'}},
  }
