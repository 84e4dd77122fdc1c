"""Server-side request batching: concurrent predict requests merged into one model call.

As TF Serving's `--enable_batching`: a model call on eight abstracts costs little more
than on one, so when requests arrive faster than the model answers them, running each
alone wastes most of each call. Here at most `threads` model calls run at once; a
request that arrives while one is free starts at once (a lone client waits for
nothing), and requests that arrive while all are busy queue and then go together, up
to the signature's request limit per call (so that a merged call takes no more memory
than one allowed request), in arrival order. Only requests for the same
model version, signature and inputs are merged, and only where every output has one
row per input, so each request gets its own rows back.

If a merged call fails (a request's values do not fit the signature, e.g. bytes that
are no tf.Example), its requests run again one by one, so that only the request at
fault gets the error. State lives on the event loop; model calls run on a thread
pool (TensorFlow releases the GIL while it computes).
"""

import asyncio
import collections
import concurrent.futures
import dataclasses
import time
from typing import Callable, Deque, Dict, FrozenSet, List, Tuple, Union

import numpy as np

from serving.predictor import Predictor

Outputs = Dict[str, np.ndarray]


@dataclasses.dataclass
class _Request:
  predictor: Predictor
  signature_name: str
  inputs: Dict[str, list]
  rows: int
  future: asyncio.Future
  queued_at: float

  @property
  def key(self) -> Tuple[int, str, FrozenSet[str]]:
    """Requests with the same key can share a model call."""
    return id(self.predictor), self.signature_name, frozenset(self.inputs)


class Batcher:
  """Runs predict requests on at most `threads` model calls at once, merging what waits.

  `max_batch_size(signature)` is the most inputs one call of that signature takes.
  `merge=False` runs every request in a call of its own (TF Serving without
  `--enable_batching`). `timeout_seconds` (TF Serving's `batch_timeout_micros`) lets a
  call that is not full wait that long after its first request for more while another
  call runs (under load, when more are coming); 0 starts it as soon as a thread is
  free. With no call running, a request starts at once whatever the timeout. `on_call(signature, inputs)` is told each call's size.
  """

  def __init__(self, threads: int, max_batch_size: Callable[[str], int],
               timeout_seconds: float, merge: bool, on_call: Callable[[str, int], None]):
    self._pool = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix='predict')
    self._threads = threads
    self._max_batch_size = max_batch_size
    self._timeout_seconds = timeout_seconds
    self._merge = merge
    self._on_call = on_call
    self._queue: Deque[_Request] = collections.deque()
    self._busy = 0
    self._timer = None

  async def run(self, predictor: Predictor, signature_name: str,
                inputs: Dict[str, list]) -> Outputs:
    """The signature's outputs for these inputs, or the error the model raised on them."""
    loop = asyncio.get_running_loop()
    rows = len(next(iter(inputs.values()))) if inputs else 0
    request = _Request(predictor, signature_name, inputs, rows, loop.create_future(),
                       time.monotonic())
    self._queue.append(request)
    self._dispatch()
    return await request.future

  def shutdown(self) -> None:
    self._pool.shutdown(wait=False)

  def _dispatch(self) -> None:
    """Starts calls while a thread is free and requests wait (on the event loop)."""
    loop = asyncio.get_running_loop()
    while self._busy < self._threads and self._queue:
      group = self._take_group()
      waited = time.monotonic() - group[0].queued_at
      rows = sum(request.rows for request in group)
      full = rows >= self._max_batch_size(group[0].signature_name)
      # Wait for more only while another call runs: a lone client never waits.
      if self._merge and not full and self._busy and waited < self._timeout_seconds:
        self._queue.extendleft(reversed(group))  # Not full: wait for more, a while.
        if self._timer is None:
          self._timer = loop.call_later(self._timeout_seconds - waited, self._on_timer)
        return
      self._busy += 1
      self._on_call(group[0].signature_name, rows)
      call = loop.run_in_executor(self._pool, _run_group, group)
      call.add_done_callback(lambda call, group=group: self._finish(group, call))

  def _on_timer(self) -> None:
    self._timer = None
    self._dispatch()

  def _take_group(self) -> List[_Request]:
    """The oldest waiting request and, when merging, the later ones that fit with it."""
    first = self._queue.popleft()
    group = [first]
    if not self._merge or first.rows == 0:
      return group
    rows, rest = first.rows, collections.deque()
    most = self._max_batch_size(first.signature_name)
    for request in self._queue:
      if request.key == first.key and request.rows and rows + request.rows <= most:
        group.append(request)
        rows += request.rows
      else:
        rest.append(request)
    self._queue = rest
    return group

  def _finish(self, group: List[_Request], call: asyncio.Future) -> None:
    self._busy -= 1
    results = call.result() if not call.exception() else [call.exception()] * len(group)
    for request, result in zip(group, results):
      if isinstance(result, BaseException):
        request.future.set_exception(result)
      else:
        request.future.set_result(result)
    self._dispatch()


def _run_group(group: List[_Request]) -> List[Union[Outputs, Exception]]:
  """Each request's outputs (or error), from one model call when the group shares one."""
  first = group[0]
  if len(group) > 1:
    merged = {name: [value for request in group for value in request.inputs[name]]
              for name in first.inputs}
    rows = sum(request.rows for request in group)
    try:
      outputs = first.predictor.run(first.signature_name, merged)
    except Exception:  # pylint: disable=broad-except
      outputs = None  # One request's values broke the call: each alone, below.
    if outputs is not None and all(value.shape[:1] == (rows,) for value in outputs.values()):
      results, start = [], 0
      for request in group:
        results.append({name: value[start:start + request.rows]
                        for name, value in outputs.items()})
        start += request.rows
      return results
  return [_run_alone(request) for request in group]


def _run_alone(request: _Request) -> Union[Outputs, Exception]:
  try:
    return request.predictor.run(request.signature_name, request.inputs)
  except Exception as error:  # pylint: disable=broad-except
    return error
