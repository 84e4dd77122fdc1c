"""serving/batching.py on a stand-in model: what is merged, what each request gets back."""

import asyncio
import threading
import time

import numpy as np
import pytest

from serving.batching import Batcher


class EchoModel:
  """Answers each input's number doubled; `gate` holds the first call until it is set;
  a negative number is a value the signature refuses, failing the whole call."""

  def __init__(self):
    self.calls = []
    self.gate = threading.Event()

  def run(self, signature_name, inputs):
    self.calls.append((signature_name, list(inputs.get('x', []))))
    if len(self.calls) == 1:
      assert self.gate.wait(10)
    if any(value < 0 for value in inputs.get('x', [])):
      raise ValueError('negative input')
    if not inputs:
      return {'vocabulary': np.array([b'a', b'b', b'c'])}  # Not one row per input.
    return {'y': np.array(inputs['x']) * 2}


def serve(model, requests, threads=1, merge=True, max_batch_size=8, timeout_seconds=0.0):
  """Each request's answer (outputs or the error) when `requests` ([(signature,
  inputs)]) arrive while the first one's call is held, and the sizes of the calls."""
  sizes = []

  async def main():
    batcher = Batcher(threads, lambda signature: max_batch_size, timeout_seconds, merge,
                      on_call=lambda signature, inputs: sizes.append(inputs))
    tasks = [asyncio.ensure_future(batcher.run(model, signature, inputs))
             for signature, inputs in requests[:1]]
    await asyncio.sleep(0.05)  # The first call has started and holds its thread.
    tasks += [asyncio.ensure_future(batcher.run(model, signature, inputs))
              for signature, inputs in requests[1:]]
    await asyncio.sleep(0.05)
    model.gate.set()
    answers = await asyncio.gather(*tasks, return_exceptions=True)
    batcher.shutdown()
    return answers

  return asyncio.run(main()), sizes


def rows(answer):
  return answer['y'].tolist()


def test_requests_that_wait_go_together_and_each_gets_its_own_rows():
  model = EchoModel()
  answers, sizes = serve(model, [('s', {'x': [1]}), ('s', {'x': [2, 3]}), ('s', {'x': [4]}),
                                 ('s', {'x': [5]})])
  assert [rows(answer) for answer in answers] == [[2], [4, 6], [8], [10]]
  assert [inputs for _, inputs in model.calls] == [[1], [2, 3, 4, 5]]
  assert sizes == [1, 4]


def test_merged_calls_stop_at_the_batch_size_in_arrival_order():
  model = EchoModel()
  answers, _ = serve(model, [('s', {'x': [0]})] + [('s', {'x': [i, i]}) for i in range(1, 6)],
                     max_batch_size=4)
  assert [inputs for _, inputs in model.calls] == [[0], [1, 1, 2, 2], [3, 3, 4, 4], [5, 5]]
  assert [rows(answer) for answer in answers[1:]] == [[2 * i, 2 * i] for i in range(1, 6)]


def test_only_the_same_signature_and_inputs_are_merged():
  model = EchoModel()
  answers, _ = serve(model, [('s', {'x': [0]}), ('s', {'x': [1]}), ('t', {'x': [2]}),
                             ('s', {'x': [3]}), ('s', {'x': [4], 'z': [0]})])
  assert [(signature, inputs) for signature, inputs in model.calls] == [
      ('s', [0]), ('s', [1, 3]), ('t', [2]), ('s', [4])]
  assert [rows(answer) for answer in answers] == [[0], [2], [4], [6], [8]]


def test_a_request_the_model_refuses_fails_alone():
  model = EchoModel()
  answers, _ = serve(model, [('s', {'x': [0]}), ('s', {'x': [1]}), ('s', {'x': [-1]}),
                             ('s', {'x': [3]})])
  assert rows(answers[1]) == [2] and rows(answers[3]) == [6]
  assert isinstance(answers[2], ValueError)
  # The merged call failed; then each of its requests ran alone.
  assert [inputs for _, inputs in model.calls] == [[0], [1, -1, 3], [1], [-1], [3]]


def test_outputs_without_a_row_per_input_are_not_split_between_requests():
  model = EchoModel()
  answers, _ = serve(model, [('s', {'x': [0]}), ('v', {}), ('v', {})])
  assert [answer['vocabulary'].tolist() for answer in answers[1:]] == [[b'a', b'b', b'c']] * 2
  assert [signature for signature, _ in model.calls] == ['s', 'v', 'v']


def test_without_merging_each_request_is_a_call_of_its_own():
  model = EchoModel()
  answers, sizes = serve(model, [('s', {'x': [0]}), ('s', {'x': [1]}), ('s', {'x': [2]})],
                         merge=False)
  assert [rows(answer) for answer in answers] == [[0], [2], [4]] and sizes == [1, 1, 1]


@pytest.mark.parametrize('timeout_seconds, calls', [
    (0.0, [[0], [1], [2, 3]]), (0.5, [[0], [1, 2, 3]])])
def test_a_batch_timeout_waits_for_more_requests_while_another_call_runs(timeout_seconds,
                                                                         calls):
  """Two threads, the first held: the second request finds one free. Without a
  timeout it starts at once, alone; with one it waits, and the next two join it."""
  model = EchoModel()
  answers, _ = serve(model, [('s', {'x': [0]}), ('s', {'x': [1]}), ('s', {'x': [2]}),
                             ('s', {'x': [3]})], threads=2, timeout_seconds=timeout_seconds)
  assert [rows(answer) for answer in answers] == [[0], [2], [4], [6]]
  assert [inputs for _, inputs in model.calls] == calls


def test_with_no_call_running_a_request_does_not_wait_for_the_timeout():
  model = EchoModel()
  model.gate.set()
  started = time.monotonic()
  answers, sizes = serve(model, [('s', {'x': [1]})], timeout_seconds=5.0)
  assert rows(answers[0]) == [2] and sizes == [1]
  assert time.monotonic() - started < 1
