"""A prediction server that speaks TensorFlow Serving's REST API, and the portal page.

    python -m serving.server                      # the newest pushed model, 127.0.0.1:8501
    python -m serving.server --port 9000 --serving-root outputs/serving_model/arxiv-subject-areas

Endpoints (as TF Serving's; `<name>` is the model name, `/versions/<n>` optional):
    GET  /v1/models/<name>                    version status
    GET  /v1/models/<name>/metadata           every signature
    POST /v1/models/<name>:predict            {"instances": [{"abstract": ..., "title": ...}]}
                                              or {"inputs": {"abstract": [...]}}; any
                                              signature by "signature_name"
    GET  /monitoring/prometheus/metrics       Prometheus metrics (serving/metrics.py)
    GET  /                                    the submission-portal page

It serves the newest numbered version under the Pusher's serving root and looks for
a newer one every few seconds; a version that fails to load is reported in the status
and the previous one keeps serving. Request rules are in serving/protocol.py.

The HTTP side is Tornado's server, so that no client can hold it: a request's headers
and its body each have a deadline, idle kept-alive connections are closed, at most
`max_connections` are open (the next is answered 503 and closed), chunked bodies are
read under the same size limit, and SIGTERM stops accepting, lets the requests in
flight finish (up to `shutdown_seconds`), then exits; a client that does not read its
response within `write_seconds` is disconnected. POST bodies must be JSON by their
Content-Type, and on loopback only local Host names are answered, so that web pages a
user visits cannot drive the server. Predictions run on a thread pool, off the event
loop; requests that arrive while the model is busy are merged into one call
(serving/batching.py). One JSON line per request goes to the `serving.access` log.
"""

import argparse
import logging
import sys

from components.output_streams import DivertedOutput


def _quiet_start() -> DivertedOutput:
  """Points the process's output at the library log before TensorFlow is imported.

  TensorFlow's start-up lines (its C++ logging writes to descriptor 2) and the Python
  warnings libraries raise (Google's client libraries warn about the Python version)
  go to the `--log-file` when one is given, else to a temporary file whose path the
  first log line names; the server's own lines, `--help` and errors reach the terminal.
  """
  pre_parser = argparse.ArgumentParser(add_help=False)
  pre_parser.add_argument('--log-file', default='')
  diverted = DivertedOutput(pre_parser.parse_known_args()[0].log_file or None,
                            prefix='arxiv-serving-libraries-')
  sys.stdout, sys.stderr = diverted.terminal, diverted.errors
  logging.captureWarnings(True)
  warnings_log = logging.getLogger('py.warnings')
  warnings_log.addHandler(logging.FileHandler(diverted.path))
  warnings_log.propagate = False
  return diverted


# Run as `python -m serving.server`: quiet before the imports below load TensorFlow.
_DIVERTED = _quiet_start() if __name__ == '__main__' else None

# pylint: disable=wrong-import-position
import asyncio
import concurrent.futures
import dataclasses
import json
import secrets
import signal
import threading
import time
from typing import Any, Dict, FrozenSet, List, Optional, Set, Tuple

import tensorflow as tf
import tornado.httpserver
import tornado.httputil
import tornado.ioloop
import tornado.iostream
import tornado.netutil
import tornado.web

from components import features
from components import paths
from serving import batching
from serving import metrics as metrics_lib
from serving import page
from serving import protocol
from serving.predictor import Predictor
from serving.protocol import RequestError

access_log = logging.getLogger('serving.access')
# How much of an over-limit body is read and dropped before the answer (see _Handler).
_DRAIN_FACTOR = 4
METRICS_PATH = '/monitoring/prometheus/metrics'
# Host names that reach a server listening on loopback, as Tornado reads the Host
# header (lower case, port dropped).
LOOPBACK_HOSTS = frozenset({'localhost', '127.0.0.1', '::1', '[::1]'})


def _setting(default: Any, help: str) -> Any:  # pylint: disable=redefined-builtin
  """A ServerSettings field with the line `--help` shows for its flag."""
  return dataclasses.field(default=default, metadata={'help': help})


@dataclasses.dataclass(frozen=True)
class ServerSettings:
  """Where the model comes from, where the server listens, and what it accepts.

  Each field is a flag of `python -m serving.server` (`--max-batch-size` for
  `max_batch_size`), with its help line here.
  """
  serving_root: str = _setting(paths.DEFAULT_SERVING_ROOT,
                               'where the Pusher publishes numbered versions; the newest is served')
  model_name: str = _setting(paths.PIPELINE_NAME, 'the model name in the URL')
  host: str = _setting('127.0.0.1', 'address to listen on (loopback unless told otherwise)')
  port: int = _setting(8501, 'port to listen on (TF Serving\'s REST port; 0: any free one)')
  # A batch of 1,024 real abstracts is about 2.2 MB of JSON (arXiv caps an abstract
  # at 1,920 characters), more with escapes: 4 MiB lets it through.
  max_body_bytes: int = _setting(4 << 20, 'largest request body, counted after gzip '
                                 'inflation; larger is answered 413')
  max_abstract_chars: int = _setting(20_000, 'longest abstract or title (arXiv stops at '
                                     '1,920 characters)')
  max_batch_size: int = _setting(1024, 'most inputs per predict request, and per merged '
                                 'model call when batching')
  # The explain signature's gradients take about 2.2 MB per input (measured:
  # docs/serving.md), ten times serving_default's.
  explain_max_batch_size: int = _setting(
      64, 'most inputs per request (and merged call) to the explain signature, whose '
      'gradients take memory per input')
  enable_batching: bool = _setting(
      True, 'merge predict requests that wait for a model call into one call, as TF '
      'Serving\'s --enable_batching')
  # Measured (docs/serving.md): 8 clients gain most from 1-2 ms; a lone client never
  # waits (no other call runs then).
  batch_timeout_ms: float = _setting(
      1.0, 'with batching: how long a model call that is not full waits for more requests '
      'while another call runs (TF Serving\'s batch_timeout_micros)')
  # TensorFlow spreads each call over the cores itself; more calls at once than cores
  # leave none waiting to be merged.
  prediction_threads: int = _setting(2, 'model calls at once')
  poll_seconds: float = _setting(5.0, 'how often to look for a newly pushed version')
  header_seconds: float = _setting(10.0, 'deadline for a request\'s headers, from the '
                                   'connection\'s start or the previous response (idle '
                                   'keep-alive connections close then)')
  body_seconds: float = _setting(30.0, 'deadline for a request\'s body, from its headers')
  write_seconds: float = _setting(30.0, 'deadline for a client to take a response; one that '
                                  'does not read is disconnected')
  max_connections: int = _setting(256, 'open connections; more are answered 503 and closed')
  allowed_hosts: Tuple[str, ...] = _setting(
      (), 'Host header names answered (comma-separated; others get 400). Default: '
      'localhost, 127.0.0.1 and ::1 when listening on loopback (no DNS rebinding), '
      'any otherwise')
  shutdown_seconds: float = _setting(10.0, 'on SIGTERM, how long requests in flight may '
                                     'finish')
  log_file: str = _setting('', 'append the access lines (one JSON object per request) and '
                           'the load, reload and stop lines to this file; stderr if unset')

  def __post_init__(self):
    for name in ('max_body_bytes', 'max_abstract_chars', 'max_batch_size',
                 'explain_max_batch_size', 'max_connections', 'prediction_threads'):
      if getattr(self, name) < 1:
        raise ValueError(f'ServerSettings.{name} must be at least 1, got {getattr(self, name)}')
    for name in ('poll_seconds', 'header_seconds', 'body_seconds', 'write_seconds',
                 'shutdown_seconds'):
      if not getattr(self, name) > 0:
        raise ValueError(f'ServerSettings.{name} must be above 0, got {getattr(self, name)}')
    if self.batch_timeout_ms < 0:
      raise ValueError(f'ServerSettings.batch_timeout_ms must be 0 or more, got '
                       f'{self.batch_timeout_ms}')

  @property
  def limits(self) -> protocol.Limits:
    return protocol.Limits(self.max_batch_size, self.max_abstract_chars,
                           {features.EXPLAIN_SIGNATURE: self.explain_max_batch_size})

  @property
  def hosts(self) -> Optional[FrozenSet[str]]:
    """The Host names answered (lower case, no port), or None for any."""
    if self.allowed_hosts:
      return frozenset(host.lower() for host in self.allowed_hosts)
    if self.host in LOOPBACK_HOSTS:
      return LOOPBACK_HOSTS
    return None


class ModelManager:
  """Keeps the newest loadable version under the serving root ready to predict."""

  def __init__(self, serving_root: str, metrics: metrics_lib.ServerMetrics):
    self.serving_root = serving_root
    self._metrics = metrics
    self._lock = threading.Lock()
    self._current: Optional[Tuple[int, Predictor]] = None
    self._failed: Dict[int, str] = {}  # version -> why it did not load

  @property
  def current(self) -> Optional[Tuple[int, Predictor]]:
    with self._lock:
      return self._current

  def refresh(self) -> None:
    """Loads the newest version if it is not the one serving and has not failed before.

    Runs on the loader thread while request handlers read `current` and `versions()`:
    what they read is changed under the lock.
    """
    versions = paths.versions(self.serving_root)
    current = self.current
    with self._lock:
      failed_before = bool(versions) and versions[-1] in self._failed
    if not versions or (current and current[0] == versions[-1]) or failed_before:
      return
    version = versions[-1]
    try:
      predictor = Predictor(paths.version_dir(self.serving_root, version))
    except Exception as error:  # pylint: disable=broad-except
      # Whatever broke the load, the previous version keeps serving. The log has the
      # whole reason; clients see its type only, not the server's paths.
      with self._lock:
        self._failed[version] = (f'{type(error).__name__}: the version did not load; the '
                                 'server log says why')
      self._metrics.model_load_failures.labels(self._metrics.model_name).inc()
      logging.error('version %d under %s did not load, still serving %s: %s', version,
                    self.serving_root, current and current[0],
                    f'{type(error).__name__}: {error}'.splitlines()[0])
      return
    with self._lock:
      self._current = (version, predictor)
    self._metrics.serving(version)
    logging.info('serving version %d from %s', version, self.serving_root)

  def versions(self) -> List[Dict[str, Any]]:
    """Every version's state, as TF Serving's GetModelStatus lists them."""
    with self._lock:
      current, failed = self._current, sorted(self._failed.items(), reverse=True)
    states = [protocol.version_status(version, 'END', 'UNKNOWN', message)
              for version, message in failed]
    if current:
      states.insert(0, protocol.version_status(current[0], 'AVAILABLE', 'OK', ''))
    return states


@tornado.web.stream_request_body
class _Handler(tornado.web.RequestHandler):
  """JSON errors (TF Serving's {"error": ...}) for every failure, counted and logged.

  Each handler reads the request body itself (Tornado would buffer it whole first).
  Past `max_body_bytes` the rest is read and dropped, then answered 413: a client that
  sends its whole body before reading (most do) would otherwise see its connection
  reset instead of the answer. Past `_DRAIN_FACTOR` times the limit (announced or
  received) it is answered 413 at once and Tornado closes the connection.
  """
  endpoint = 'unknown'  # The metrics' endpoint label.
  allowed_methods: Tuple[str, ...] = ('GET',)
  SUPPORTED_METHODS = ('GET', 'HEAD', 'POST', 'DELETE', 'PATCH', 'PUT', 'OPTIONS')

  def initialize(self, server: 'PredictionServer'):
    # pylint: disable=attribute-defined-outside-init
    self.server = server
    self.batch_size = 0
    self._chunks: List[bytes] = []
    self.received_bytes = 0
    self.refused: Optional[RequestError] = None  # Set once the body passes the limit.
    server.active_requests.add(self)  # Until it ends: shutdown waits for it.

  def on_finish(self):
    self.server.active_requests.discard(self)

  def on_connection_close(self):
    self.server.active_requests.discard(self)

  def set_default_headers(self):
    self.set_header('X-Content-Type-Options', 'nosniff')
    self.clear_header('Server')

  def prepare(self):
    hosts = self.server.settings.hosts
    if hosts is not None and self.request.host_name not in hosts:
      # A page from elsewhere that rebinds its DNS name to this address reaches a
      # loopback server with its own name as Host.
      raise RequestError(400, f'Host {protocol.shorten(self.request.host_name)!r} is not '
                         f'one this server answers to: {", ".join(sorted(hosts))} '
                         '(--allowed-hosts)')
    length = self.request.headers.get('Content-Length', '0')
    if not protocol.is_ascii_number(length):
      raise RequestError(400, f'Content-Length {protocol.shorten(length)!r} is not a number')
    if int(length) > self.server.settings.max_body_bytes:
      self.refused = self._too_large(int(length))
      if int(length) > _DRAIN_FACTOR * self.server.settings.max_body_bytes:
        raise self.refused
    if self.request.method not in self.allowed_methods:
      self.set_header('Allow', ', '.join(self.allowed_methods))
      raise RequestError(405, f'{self.request.method} is not allowed on '
                         f'{protocol.shorten(self.request.path)}; use '
                         f'{" or ".join(self.allowed_methods)}')
    if self.request.method == 'POST':
      # A web page can make a visitor's browser POST a form or text/plain to a server
      # on their machine without asking it first; JSON it cannot, without CORS.
      content_type = self.request.headers.get('Content-Type', '')
      if content_type.split(';')[0].strip().lower() != 'application/json':
        raise RequestError(415, f'Content-Type {protocol.shorten(content_type)!r} is not '
                           'application/json (curl: -H "Content-Type: application/json")')

  def data_received(self, chunk: bytes):
    self.received_bytes += len(chunk)
    limit = self.server.settings.max_body_bytes
    if self.refused is None and self.received_bytes > limit:
      self.refused = self._too_large(self.received_bytes, at_least=True)
    if self.refused is None:
      self._chunks.append(chunk)
      return
    self._chunks.clear()
    if self.received_bytes > _DRAIN_FACTOR * limit and not self._finished:
      self.send_error(413, exc_info=(RequestError, self.refused, None))

  def _too_large(self, size: int, at_least: bool = False) -> RequestError:
    return RequestError(413, f'the request body has {"more than " if at_least else ""}'
                        f'{size:,} bytes; at most {self.server.settings.max_body_bytes:,}')

  @property
  def body(self) -> bytes:
    """The request body, or RequestError (413) if it was over the limit."""
    if self.refused is not None:
      raise self.refused
    return b''.join(self._chunks)

  def send_json(self, status: int, body: Any) -> None:
    self.set_status(status)
    self.set_header('Content-Type', 'application/json')
    self.finish(json.dumps(body).encode('utf-8'))

  def finish(self, chunk: Any = None) -> 'asyncio.Future[None]':
    """Tornado's finish, with a deadline for the client to take the response: a client
    that sends requests and never reads them would otherwise hold its connection."""
    written = super().finish(chunk)
    if not written.done():
      stream = self.request.connection.stream
      timer = tornado.ioloop.IOLoop.current().call_later(
          self.server.settings.write_seconds, stream.close)
      written.add_done_callback(
          lambda _: tornado.ioloop.IOLoop.current().remove_timeout(timer))
    return written

  def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
    error = kwargs.get('exc_info', (None, None))[1]
    if isinstance(error, RequestError):
      status_code = error.status
    if self._headers_written:
      return super().send_error(status_code, **kwargs)
    allow = self._headers.get('Allow')
    self.clear()
    if allow:
      self.set_header('Allow', allow)
    self.send_json(status_code, {'error': self._error_message(status_code, error)})

  @staticmethod
  def _error_message(status: int, error: Optional[BaseException]) -> str:
    if isinstance(error, RequestError):
      return str(error)
    if isinstance(error, tornado.web.HTTPError):
      return error.log_message or tornado.httputil.responses.get(status, 'error')
    return f'internal error: {type(error).__name__}' if error else 'internal error'

  def log_exception(self, typ, value, tb):
    if not isinstance(value, (RequestError, tornado.web.HTTPError)):
      super().log_exception(typ, value, tb)  # A bug, with its traceback.


class ModelHandler(_Handler):
  """/v1/models/...: status, metadata and predict."""
  allowed_methods = ('GET', 'POST')

  def prepare(self):
    # pylint: disable=attribute-defined-outside-init
    self.model_path = protocol.parse_model_path(self.request.path)
    if self.model_path is None:
      raise RequestError(404, f'no such endpoint: {protocol.shorten(self.request.path)}')
    self.endpoint = self.model_path.action.strip(':/') or 'status'
    self.allowed_methods = ('POST',) if self.model_path.action == protocol.PREDICT else ('GET',)
    super().prepare()
    if self.model_path.name != self.server.settings.model_name:
      raise RequestError(404, f'model {protocol.shorten(self.model_path.name)!r} not found; '
                         f'this server serves {self.server.settings.model_name!r}')

  def get(self):
    if self.model_path.action == protocol.STATUS:
      return self.send_json(200, protocol.status_response(
          self.server.models.versions(), self.model_path.name, self.model_path.version))
    version, predictor = self._model()
    self.send_json(200, protocol.metadata_response(self.model_path.name, version,
                                                   predictor.signatures))

  async def post(self):
    version, predictor = self._model()
    request = protocol.parse_predict(self.body, predictor.input_specs,
                                     self.server.settings.limits)
    self.batch_size = request.batch_size  # pylint: disable=attribute-defined-outside-init
    try:
      outputs = await self.server.batcher.run(predictor, request.signature_name,
                                              request.inputs)
    except (tf.errors.InvalidArgumentError, ValueError, TypeError) as error:
      # The values did not fit the signature (e.g. bytes that are no tf.Example).
      raise RequestError(400, f'the inputs do not fit signature {request.signature_name!r}: '
                         f'{protocol.shorten(_op_message(error), 300)}') from None
    self.server.metrics.prediction(request.signature_name, request.batch_size, outputs,
                                   predictor.labels)
    self.set_header('X-Model-Version', str(version))
    self.send_json(200, protocol.predict_response(outputs, request.row_format,
                                                  request.batch_size))

  def _model(self) -> Tuple[int, Predictor]:
    current = self.server.models.current
    if current is None:
      raise RequestError(503, 'no model version is loaded yet (the server log says from '
                         'where)')
    version = self.model_path.version
    if version is not None and version != current[0]:
      raise RequestError(404, f'version {version} of model {self.model_path.name!r} is not '
                         f'loaded; serving version {current[0]}')
    return current


def _op_message(error: Exception) -> str:
  """The line of a TensorFlow error that says what was wrong, not where."""
  lines = [line.strip() for line in getattr(error, 'message', str(error)).splitlines()]
  reasons = [line for line in lines if line and not line.startswith(
      ('Graph execution error', 'Detected at node', '<stack traces', '[[', 'Traceback',
       'File '))]
  return reasons[0] if reasons else type(error).__name__


class PageHandler(_Handler):
  """The portal page, with a per-response nonce for its one inline script."""
  endpoint = 'page'

  def get(self):
    nonce = secrets.token_urlsafe(16)
    self.set_header('Content-Type', 'text/html; charset=utf-8')
    self.set_header('Content-Security-Policy',
                    f"default-src 'self'; script-src 'nonce-{nonce}'; style-src "
                    f"'nonce-{nonce}'; img-src 'self' data:; frame-ancestors 'none'")
    self.finish(page.render(self.server.settings.model_name, nonce,
                            self.server.settings.max_abstract_chars))


class MetricsHandler(_Handler):
  endpoint = 'metrics'

  def get(self):
    self.set_header('Content-Type', metrics_lib.CONTENT_TYPE)
    self.finish(self.server.metrics.exposition())


class NotFoundHandler(_Handler):
  endpoint = 'not_found'

  def prepare(self):
    raise RequestError(404, f'no such endpoint: {self.request.method} '
                       f'{protocol.shorten(self.request.path)}')


class _HTTPServer(tornado.httpserver.HTTPServer):
  """Tornado's HTTP server with a cap on open connections."""

  def initialize(self, *args, max_connections: int, metrics: metrics_lib.ServerMetrics,
                 **kwargs):  # pylint: disable=arguments-differ
    super().initialize(*args, **kwargs)
    self.max_connections = max_connections
    self.metrics = metrics

  def handle_stream(self, stream: tornado.iostream.IOStream, address: Tuple) -> None:
    if len(self._connections) >= self.max_connections:
      self.metrics.refused_connections.inc()
      body = json.dumps({'error': 'the server is at its connection limit; retry later'})
      stream.write(('HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n'
                    f'Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n'
                    f'\r\n{body}').encode('ascii')).add_done_callback(lambda _: stream.close())
      return
    super().handle_stream(stream, address)
    self.metrics.open_connections.set(len(self._connections))

  def on_close(self, server_conn) -> None:
    super().on_close(server_conn)
    self.metrics.open_connections.set(len(self._connections))


class PredictionServer:
  """The HTTP server, its model and its metrics, on an event loop of its own thread.

  `start()` returns once it listens (port 0 picks a free one: see `url`); `stop()`
  shuts down gracefully. `main` runs the same in the foreground.
  """

  def __init__(self, settings: ServerSettings):
    self.settings = settings
    self.metrics = metrics_lib.ServerMetrics(settings.model_name)
    self.models = ModelManager(settings.serving_root, self.metrics)
    self.models.refresh()
    self.batcher = batching.Batcher(
        settings.prediction_threads,
        lambda signature: settings.limits.for_signature(signature).max_batch_size,
        settings.batch_timeout_ms / 1000, merge=settings.enable_batching,
        on_call=self.metrics.model_call)
    self._loader = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix='load')
    self.application = tornado.web.Application(
        [(r'/', PageHandler, {'server': self}),
         (METRICS_PATH, MetricsHandler, {'server': self}),
         (r'/v1/models/.*', ModelHandler, {'server': self})],
        default_handler_class=NotFoundHandler, default_handler_args={'server': self},
        log_function=self._log_request, compress_response=False)
    self._http: Optional[_HTTPServer] = None
    self._loop: Optional[asyncio.AbstractEventLoop] = None
    self._thread: Optional[threading.Thread] = None
    self._stopped: Optional[asyncio.Event] = None
    self.active_requests: Set[tornado.web.RequestHandler] = set()  # On the event loop only.
    self.server_address: Tuple[str, int] = (settings.host, settings.port)

  @property
  def open_connections(self) -> int:
    return len(self._http._connections) if self._http else 0  # pylint: disable=protected-access

  @property
  def url(self) -> str:
    host, port = self.server_address
    return f'http://{host}:{port}'

  def _log_request(self, handler: tornado.web.RequestHandler) -> None:
    seconds = handler.request.request_time()
    endpoint = getattr(handler, 'endpoint', 'unknown')
    self.metrics.request(endpoint, handler.request.method, handler.get_status(), seconds)
    current = self.models.current
    access_log.info(json.dumps({
        'time': time.strftime('%Y-%m-%dT%H:%M:%S%z'), 'client': handler.request.remote_ip,
        'method': handler.request.method, 'path': protocol.shorten(handler.request.path, 200),
        'endpoint': endpoint, 'status': handler.get_status(),
        'ms': round(seconds * 1000, 2), 'request_bytes': getattr(handler, 'received_bytes', 0),
        'batch_size': getattr(handler, 'batch_size', 0),
        'model_version': current[0] if current else None,
        'user_agent': protocol.shorten(handler.request.headers.get('User-Agent', ''), 200)}))

  async def _serve(self, ready: threading.Event) -> None:
    self._loop = asyncio.get_running_loop()
    self._stopped = asyncio.Event()
    settings = self.settings
    self._http = _HTTPServer(
        self.application, max_connections=settings.max_connections, metrics=self.metrics,
        idle_connection_timeout=settings.header_seconds, body_timeout=settings.body_seconds,
        # The handlers enforce the body limit with a 413 (see _Handler); Tornado's own
        # cap would answer a bare 400 after it.
        max_body_size=1 << 62, max_header_size=64 * 1024,
        # `Content-Encoding: gzip` bodies, as TF Serving takes them. The handlers count
        # the inflated bytes, so the body limit applies after inflation: a zip bomb
        # is a 413 once it passes the limit, not a server out of memory.
        decompress_request=True)
    sockets = tornado.netutil.bind_sockets(settings.port, settings.host)
    self.server_address = sockets[0].getsockname()[:2]
    self._http.add_sockets(sockets)
    poller = tornado.ioloop.PeriodicCallback(self._poll, settings.poll_seconds * 1000)
    poller.start()
    ready.set()
    await self._stopped.wait()
    poller.stop()
    await self._shut_down()

  async def _poll(self) -> None:
    await asyncio.get_running_loop().run_in_executor(self._loader, self.models.refresh)

  async def _shut_down(self) -> None:
    """Stops accepting, gives requests in flight `shutdown_seconds`, then closes."""
    self._http.stop()
    deadline = time.monotonic() + self.settings.shutdown_seconds
    while self.active_requests and time.monotonic() < deadline:
      await asyncio.sleep(0.05)
    await asyncio.wait_for(self._http.close_all_connections(), timeout=5)

  def start(self) -> 'PredictionServer':
    ready = threading.Event()
    self._thread = threading.Thread(target=lambda: asyncio.run(self._serve(ready)),
                                    name='http', daemon=True)
    self._thread.start()
    if not ready.wait(60):
      raise RuntimeError('the server did not start listening within 60 s')
    return self

  def stop(self) -> None:
    if self._loop and self._stopped:
      self._loop.call_soon_threadsafe(self._stopped.set)
    if self._thread:
      self._thread.join(self.settings.shutdown_seconds + 10)
    self.batcher.shutdown()
    self._loader.shutdown(wait=False)


def _comma_separated(text: str) -> Tuple[str, ...]:
  return tuple(item.strip() for item in text.split(',') if item.strip())


def parse_settings(argv: Optional[List[str]] = None) -> ServerSettings:
  """ServerSettings from the command line: a flag per field, with its help line."""
  defaults = ServerSettings()
  parser = argparse.ArgumentParser(
      description=__doc__.splitlines()[0],
      formatter_class=argparse.ArgumentDefaultsHelpFormatter)
  for field in dataclasses.fields(ServerSettings):
    flag = '--' + field.name.replace('_', '-')
    default = getattr(defaults, field.name)
    if field.type is bool:
      parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default,
                          help=field.metadata['help'])
    elif field.type == Tuple[str, ...]:
      parser.add_argument(flag, type=_comma_separated, default=default,
                          metavar='NAME[,NAME...]', help=field.metadata['help'])
    else:
      parser.add_argument(flag, type=field.type, default=default, help=field.metadata['help'])
  try:
    return ServerSettings(**vars(parser.parse_args(argv)))
  except ValueError as error:
    parser.error(str(error))


def main(argv: Optional[List[str]] = None) -> int:
  settings = parse_settings(argv)
  # force: importing TensorFlow has already given the root logger a handler, at
  # WARNING, and without it basicConfig would leave that in place: no access log.
  # To the terminal's stderr (sys.stderr, kept when the descriptors were diverted).
  logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s',
                      force=True, **({'filename': settings.log_file} if settings.log_file
                                     else {'stream': sys.stderr}))
  if _DIVERTED is not None and not settings.log_file:
    logging.info('library notices (TensorFlow\'s, Python warnings): %s', _DIVERTED.path)
  server = PredictionServer(settings).start()
  current = server.models.current
  print(f'serving {settings.model_name!r} ' +
        (f'version {current[0]}' if current else 'no model yet (waiting for a push)') +
        f' from {settings.serving_root} at {server.url}/', flush=True)
  stop = threading.Event()
  for signum in (signal.SIGTERM, signal.SIGINT):
    signal.signal(signum, lambda *_: stop.set())
  stop.wait()
  logging.info('stopping: finishing the requests in flight (up to %s s)',
               settings.shutdown_seconds)
  server.stop()
  return 0


if __name__ == '__main__':
  sys.exit(main())
