"""A prediction server that speaks TensorFlow Serving's REST API, and the portal page.

    python -m serving.server                      # the newest pushed model, 127.0.0.1:8501
    python -m serving.server --port 9000 --serving-root outputs/serving_model/arxiv-subject-areas

Endpoints (as TF Serving's; `<name>` is the model name, `/versions/<n>` optional):
    GET  /v1/models/<name>              version status
    GET  /v1/models/<name>/metadata     signatures
    POST /v1/models/<name>:predict      {"instances": [{"abstract": ..., "title": ...}]}
                                        or {"inputs": {"abstract": [...], "title": [...]}}
    GET  /                              the submission-portal page

It serves the newest numbered version under the Pusher's serving root and checks for
a newer one every few seconds; a version that fails to load is reported in the status
and the previous one keeps serving. `title` may be left out (it is then empty); real
TF Serving needs every input of the signature.
"""

import argparse
import dataclasses
import http.server
import json
import logging
import os
import re
import sys
import threading
import urllib.parse
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from tensorflow.core.framework import types_pb2

from components import features
from pipeline.config import PipelineConfig
from serving import page
from serving.predictor import Predictor, serving_versions

_INPUTS = (features.ABSTRACT_KEY, features.TITLE_KEY)
_MODEL_PATH = re.compile(
    r'/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+))?'
    r'(?P<suffix>/metadata|:predict)?')


@dataclasses.dataclass(frozen=True)
class ServerSettings:
  """Where the model comes from, where the server listens, and what it accepts."""
  serving_root: str = PipelineConfig().serving_model_dir
  model_name: str = PipelineConfig().pipeline_name
  host: str = '127.0.0.1'  # Loopback unless told otherwise.
  port: int = 8501  # TF Serving's REST port.
  max_body_bytes: int = 1 << 20
  max_abstract_chars: int = 20_000  # Real abstracts stop at 1,920 characters (arXiv's limit).
  max_batch_size: int = 256
  poll_seconds: float = 5.0


class RequestError(Exception):
  """A request the server refuses, with the HTTP status and a message for the client."""

  def __init__(self, status: int, message: str):
    super().__init__(message)
    self.status = status


class ModelManager:
  """Keeps the newest loadable version under the serving root ready to predict."""

  def __init__(self, serving_root: str):
    self.serving_root = serving_root
    self._lock = threading.Lock()
    self._current: Optional[Tuple[int, Predictor]] = None
    self._failed: Dict[int, str] = {}  # version -> why it did not load

  @property
  def current(self) -> Optional[Tuple[int, Predictor]]:
    with self._lock:
      return self._current

  def refresh(self) -> None:
    """Loads the newest version if it is not the one serving and has not failed before."""
    versions = serving_versions(self.serving_root)
    current = self.current
    if not versions or (current and current[0] == versions[0]) or versions[0] in self._failed:
      return
    version = versions[0]
    try:
      predictor = Predictor(os.path.join(self.serving_root, str(version)))
    except Exception as error:  # pylint: disable=broad-except
      # Whatever broke the load, the previous version keeps serving.
      self._failed[version] = f'{type(error).__name__}: {error}'.splitlines()[0]
      logging.error('version %d under %s did not load, still serving %s: %s', version,
                    self.serving_root, current and current[0], self._failed[version])
      return
    with self._lock:
      self._current = (version, predictor)
    logging.info('serving version %d from %s', version, self.serving_root)

  def poll(self, every_seconds: float, stop: threading.Event) -> None:
    while not stop.wait(every_seconds):
      self.refresh()

  def status(self) -> Dict[str, Any]:
    """TF Serving's GetModelStatus response."""
    current = self.current
    states = [_version_status(version, 'END', 'UNKNOWN', message)
              for version, message in sorted(self._failed.items(), reverse=True)]
    if current:
      states.insert(0, _version_status(current[0], 'AVAILABLE', 'OK', ''))
    return {'model_version_status': states}


def _version_status(version: int, state: str, code: str, message: str) -> Dict[str, Any]:
  return {'version': str(version), 'state': state,
          'status': {'error_code': code, 'error_message': message}}


def _tensor_info(name: str, spec) -> Dict[str, Any]:
  dims = [{'size': str(-1 if d is None else d), 'name': ''} for d in spec.shape.as_list()]
  return {'dtype': types_pb2.DataType.Name(spec.dtype.as_datatype_enum), 'name': name,
          'tensor_shape': {'dim': dims, 'unknown_rank': False}}


def metadata(model_name: str, version: int, predictor: Predictor) -> Dict[str, Any]:
  """TF Serving's GetModelMetadata response for the serving signature."""
  signature = predictor.signature
  inputs = signature.structured_input_signature[1]
  return {
      'model_spec': {'name': model_name, 'signature_name': '', 'version': str(version)},
      'metadata': {'signature_def': {'signature_def': {
          features.SERVING_SIGNATURE: {
              'inputs': {name: _tensor_info(name, spec) for name, spec in inputs.items()},
              'outputs': {name: _tensor_info(name, tensor)
                          for name, tensor in signature.structured_outputs.items()},
              'method_name': 'tensorflow/serving/predict',
          }}}},
  }


def parse_predict_request(body: bytes,
                          settings: ServerSettings) -> Tuple[List[str], List[str], bool]:
  """(abstracts, titles, row format?) from a TF Serving predict request, or RequestError."""
  try:
    request = json.loads(body)
  except (UnicodeDecodeError, json.JSONDecodeError) as error:
    raise RequestError(400, f'the request body is not valid JSON: {error}') from None
  except RecursionError:
    raise RequestError(400, 'the request body nests too deeply') from None
  if not isinstance(request, dict):
    raise RequestError(400, 'the request body must be a JSON object with "instances" or '
                       f'"inputs"; got {_json_type(request)}')
  signature = request.get('signature_name', features.SERVING_SIGNATURE)
  if signature != features.SERVING_SIGNATURE:
    raise RequestError(400, f'signature_name {signature!r} is not served; use '
                       f'{features.SERVING_SIGNATURE!r}')
  unknown = set(request) - {'signature_name', 'instances', 'inputs'}
  if unknown or ('instances' in request) == ('inputs' in request):
    raise RequestError(400, 'the request needs exactly one of "instances" (row format) or '
                       '"inputs" (columnar format)' +
                       (f'; unknown keys: {", ".join(sorted(unknown))}' if unknown else ''))
  row_format = 'instances' in request
  if row_format:
    columns = _instance_columns(request['instances'], settings.max_batch_size)
    where = lambda name, i: f'instances[{i}].{name}'
  else:
    columns = _input_columns(request['inputs'], settings.max_batch_size)
    where = lambda name, i: f'inputs.{name}[{i}]'
  for name in _INPUTS:
    for i, value in enumerate(columns[name]):
      if not isinstance(value, str):
        raise RequestError(400, f'{where(name, i)} must be a string; got {_json_type(value)}')
      if len(value) > settings.max_abstract_chars:
        raise RequestError(413, f'{where(name, i)} has {len(value):,} characters; at most '
                           f'{settings.max_abstract_chars:,}')
  for i, abstract in enumerate(columns[features.ABSTRACT_KEY]):
    if not abstract.strip():
      raise RequestError(400, f'{where(features.ABSTRACT_KEY, i)} is empty')
  return columns[features.ABSTRACT_KEY], columns[features.TITLE_KEY], row_format


def _check_batch_size(count: int, max_batch_size: int) -> None:
  if count == 0:
    raise RequestError(400, 'the request holds no abstract')
  if count > max_batch_size:
    raise RequestError(413, f'the request holds {count} abstracts; at most '
                       f'{max_batch_size} per request')


def _instance_columns(instances: Any, max_batch_size: int) -> Dict[str, list]:
  """Row format -> one list per input."""
  if not isinstance(instances, list):
    raise RequestError(400, '"instances" must be a list of {"abstract": ..., "title": ...}')
  _check_batch_size(len(instances), max_batch_size)
  columns = {name: [] for name in _INPUTS}
  for i, instance in enumerate(instances):
    if not isinstance(instance, dict):
      raise RequestError(400, f'instances[{i}] must be an object with "abstract" and '
                         f'optionally "title"; got {_json_type(instance)}')
    _check_keys(instance, f'instances[{i}]')
    for name in _INPUTS:
      columns[name].append(instance.get(name, ''))
  return columns


def _input_columns(inputs: Any, max_batch_size: int) -> Dict[str, list]:
  """Columnar format -> one list per input; a lone string is a batch of one."""
  if not isinstance(inputs, dict):
    raise RequestError(400, '"inputs" must be an object {"abstract": [...], "title": [...]}')
  _check_keys(inputs, 'inputs')
  columns = {}
  for name in _INPUTS:
    values = inputs.get(name)
    if isinstance(values, str):
      values = [values]
    elif values is not None and not isinstance(values, list):
      raise RequestError(400, f'inputs.{name} must be a string or a list of strings; got '
                         f'{_json_type(values)}')
    columns[name] = values
  count = len(columns[features.ABSTRACT_KEY])
  _check_batch_size(count, max_batch_size)
  if columns[features.TITLE_KEY] is None:
    columns[features.TITLE_KEY] = [''] * count
  if len(columns[features.TITLE_KEY]) != count:
    raise RequestError(400, f'inputs.title has {len(columns[features.TITLE_KEY])} values '
                       f'but inputs.abstract has {count}')
  return columns


def _check_keys(value: Dict[str, Any], where: str) -> None:
  if features.ABSTRACT_KEY not in value:
    raise RequestError(400, f'{where} has no "abstract"')
  unknown = set(value) - set(_INPUTS)
  if unknown:
    raise RequestError(400, f'{where} has unknown keys {", ".join(sorted(unknown))}; the '
                       'inputs are "abstract" and "title"')


def _json_type(value: Any) -> str:
  return {dict: 'an object', list: 'a list', str: 'a string', bool: 'a boolean',
          type(None): 'null'}.get(type(value), 'a number')


def predict_response(outputs: Dict[str, np.ndarray], row_format: bool) -> Dict[str, Any]:
  """TF Serving's response shapes: per-row objects, or one list per output."""
  columns = {name: _to_json(values) for name, values in outputs.items()}
  if not row_format:
    return {'outputs': columns}
  rows = len(next(iter(columns.values())))
  return {'predictions': [{name: values[i] for name, values in columns.items()}
                          for i in range(rows)]}


def _to_json(values: np.ndarray) -> list:
  if values.dtype.kind in ('S', 'O'):
    return np.vectorize(lambda b: b.decode('utf-8'), otypes=[object])(values).tolist()
  return values.tolist()


class _Handler(http.server.BaseHTTPRequestHandler):
  """One request; the server object carries the settings and the model manager."""
  protocol_version = 'HTTP/1.1'  # Keep-alive for clients that send many requests.
  # Headers and body go out in two writes: with Nagle's algorithm on, the body would
  # wait for the client's delayed ACK (~40 ms a response).
  disable_nagle_algorithm = True
  server: 'PredictionServer'

  def do_GET(self):  # pylint: disable=invalid-name
    self._dispatch('GET')

  def do_POST(self):  # pylint: disable=invalid-name
    self._dispatch('POST')

  def _dispatch(self, method: str) -> None:
    try:
      # The body is read (or refused) first, so that a kept-alive connection stays in step.
      body = self._body() if method == 'POST' else b''
      status, body, content_type = self._route(method, body)
    except RequestError as error:
      status, body, content_type = error.status, {'error': str(error)}, 'application/json'
    except Exception as error:  # pylint: disable=broad-except
      logging.exception('%s %s failed', method, self.path)
      status, body, content_type = 500, {'error': f'internal error: {type(error).__name__}'}, (
          'application/json')
    payload = body if isinstance(body, bytes) else json.dumps(body).encode('utf-8')
    self.send_response(status)
    self.send_header('Content-Type', content_type)
    self.send_header('Content-Length', str(len(payload)))
    self.send_header('X-Content-Type-Options', 'nosniff')
    self.end_headers()
    self.wfile.write(payload)

  def _route(self, method: str, body: bytes) -> Tuple[int, Any, str]:
    path = urllib.parse.urlsplit(self.path).path
    if path == '/':
      if method != 'GET':
        raise RequestError(405, 'use GET for the page')
      return 200, page.render(self.server.settings.model_name), 'text/html; charset=utf-8'
    match = _MODEL_PATH.fullmatch(path)
    if not match:
      raise RequestError(404, f'no such endpoint: {method} {_shorten(path)}')
    name, version, suffix = match.group('name', 'version', 'suffix')
    if name != self.server.settings.model_name:
      raise RequestError(404, f'model {_shorten(name)!r} not found; this server serves '
                         f'{self.server.settings.model_name!r}')
    if (method == 'POST') != (suffix == ':predict'):
      raise RequestError(405, f'{method} is not allowed on {_shorten(path)}')
    if suffix is None:
      return 200, self.server.models.status(), 'application/json'
    version_number, predictor = self._model(version)
    if suffix == '/metadata':
      return 200, metadata(name, version_number, predictor), 'application/json'
    abstracts, titles, row_format = parse_predict_request(body, self.server.settings)
    return 200, predict_response(predictor.outputs(abstracts, titles), row_format), (
        'application/json')

  def _model(self, version: Optional[str]) -> Tuple[int, Predictor]:
    current = self.server.models.current
    if current is None:
      raise RequestError(503, 'no model version is loaded yet from '
                         f'{self.server.settings.serving_root}')
    if version is not None and version != str(current[0]):
      raise RequestError(404, f'version {_shorten(version)} of model '
                         f'{self.server.settings.model_name!r} is not loaded; serving '
                         f'version {current[0]}')
    return current

  def _body(self) -> bytes:
    length = self.headers.get('Content-Length')
    if length is None or not length.isdigit():
      self.close_connection = True
      raise RequestError(411, 'a POST request needs a Content-Length header')
    if int(length) > self.server.settings.max_body_bytes:
      self.close_connection = True  # The unread body must not be taken for a request.
      raise RequestError(413, f'the request body has {int(length):,} bytes; at most '
                         f'{self.server.settings.max_body_bytes:,}')
    return self.rfile.read(int(length))

  def log_message(self, format, *args):  # pylint: disable=redefined-builtin
    logging.debug('%s - %s', self.address_string(), format % args)


def _shorten(text: str, limit: int = 80) -> str:
  return text if len(text) <= limit else text[:limit] + '…'


class PredictionServer(http.server.ThreadingHTTPServer):
  """The HTTP server with its model: one thread per connection, a poller for versions."""
  daemon_threads = True

  def __init__(self, settings: ServerSettings):
    self.settings = settings
    self.models = ModelManager(settings.serving_root)
    self.models.refresh()
    self._stop_polling = threading.Event()
    super().__init__((settings.host, settings.port), _Handler)
    self._poller = threading.Thread(
        target=self.models.poll, args=(settings.poll_seconds, self._stop_polling), daemon=True)
    self._poller.start()

  @property
  def url(self) -> str:
    host, port = self.server_address[:2]
    return f'http://{host}:{port}'

  def server_close(self):
    self._stop_polling.set()
    super().server_close()


def parse_settings(argv: Optional[List[str]] = None) -> ServerSettings:
  defaults = ServerSettings()
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  for field in dataclasses.fields(ServerSettings):
    parser.add_argument('--' + field.name.replace('_', '-'), type=field.type,
                        default=getattr(defaults, field.name))
  return ServerSettings(**vars(parser.parse_args(argv)))


def main(argv: Optional[List[str]] = None) -> int:
  logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
  settings = parse_settings(argv)
  server = PredictionServer(settings)
  current = server.models.current
  print(f'serving {settings.model_name!r} ' +
        (f'version {current[0]}' if current else 'no model yet (waiting for a push)') +
        f' from {settings.serving_root} at {server.url}/', flush=True)
  try:
    server.serve_forever()
  except KeyboardInterrupt:
    pass
  finally:
    server.server_close()
  return 0


if __name__ == '__main__':
  sys.exit(main())
