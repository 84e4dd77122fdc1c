"""The TF Serving-compatible server against the pipeline's model: the API, robustness
against slow and malformed clients, metrics and the access log.

The model is the one the session's end-to-end run pushed (`first_run`); each server
here serves a copy of its serving root, listening on a free loopback port. The
request rules themselves are tested without a server in test_serving_protocol.py.
"""

import base64
import contextlib
import dataclasses
import gzip
import http.client
import json
import logging
import os
import shutil
import random
import re
import signal
import socket
import string
import subprocess
import sys
import threading
import time

import hypothesis
from hypothesis import strategies as st
import pytest
import tensorflow as tf
import tensorflow_transform as tft
from prometheus_client.parser import text_string_to_metric_families
from tfx.types import standard_component_specs as specs

from components import export
from components import features
from components.settings import TrainerSettings
from pipeline import definition
from pipeline import predict as predict_command
from pipeline.config import REPOSITORY_ROOT
from serving.predictor import WARNING_TEXTS, Predictor
from serving.server import METRICS_PATH, ServerSettings
from tests.conftest import (GERMAN, LANGUAGE, MODEL, NO_EVIDENCE, SHORT, VISION,
                            sample_rows, serving_root_copy, start_server)

PREDICT = f'/v1/models/{MODEL}:predict'


@pytest.fixture(scope='module')
def server(first_run, tmp_path_factory):
  server = start_server(serving_root_copy(first_run, tmp_path_factory.mktemp('serving')))
  yield server
  server.stop()


def call(server, method, path, body=None, headers=None):
  """(status, headers, decoded JSON or text) of one request on a fresh connection; a
  POST says its body is JSON unless `headers` say otherwise."""
  connection = http.client.HTTPConnection(*server.server_address, timeout=60)
  if isinstance(body, (dict, list)):
    body = json.dumps(body)
  if headers is None:
    headers = {'Content-Type': 'application/json'} if method == 'POST' else {}
  connection.request(method, path, body=body, headers=headers)
  response = connection.getresponse()
  payload = response.read().decode('utf-8')
  connection.close()
  if response.getheader('Content-Type', '').startswith('application/json') and payload:
    payload = json.loads(payload)
  return response.status, response, payload


def predict(server, request, path=PREDICT):
  status, _, body = call(server, 'POST', path, request)
  return status, body


def test_binds_to_loopback_by_default(server):
  assert ServerSettings().host == '127.0.0.1'
  assert server.server_address[0] == '127.0.0.1'


def test_model_status_of_the_serving_version_and_of_others(server, first_run):
  version = os.path.basename(first_run['pushed_model_path'])
  available = {'version': version, 'state': 'AVAILABLE',
               'status': {'error_code': 'OK', 'error_message': ''}}
  assert call(server, 'GET', f'/v1/models/{MODEL}')[::2] == (
      200, {'model_version_status': [available]})
  assert call(server, 'GET', f'/v1/models/{MODEL}/versions/{version}')[::2] == (
      200, {'model_version_status': [available]})
  status, _, body = call(server, 'GET', f'/v1/models/{MODEL}/versions/999')
  assert status == 404 and 'could not find version 999' in body['error']
  assert call(server, 'GET', f'/v1/models/{MODEL}/versions/abc')[0] == 400


def test_metadata_lists_every_signature(server):
  status, _, body = call(server, 'GET', f'/v1/models/{MODEL}/metadata')
  assert status == 200
  signatures = body['metadata']['signature_def']['signature_def']
  assert set(signatures) == {features.SERVING_SIGNATURE, features.EXAMPLES_SIGNATURE,
                             features.TRANSFORM_SIGNATURE, features.LABELS_SIGNATURE,
                             features.EXPLAIN_SIGNATURE}
  serving = signatures[features.SERVING_SIGNATURE]
  assert set(serving['inputs']) == {features.ABSTRACT_KEY, features.TITLE_KEY}
  assert serving['inputs'][features.ABSTRACT_KEY]['dtype'] == 'DT_STRING'
  assert serving['outputs'][features.PROBABILITIES_KEY]['dtype'] == 'DT_FLOAT'
  assert set(signatures[features.EXAMPLES_SIGNATURE]['inputs']) == {'examples'}
  assert {features.INPUT_WARNING_KEY, features.EVIDENCE_NGRAMS_KEY} <= set(
      signatures[features.EXPLAIN_SIGNATURE]['outputs'])
  assert serving['outputs'][features.INPUT_WARNING_KEY]['dtype'] == 'DT_STRING'


def test_row_format_predicts_what_the_model_predicts(server, first_run):
  status, body = predict(server, {'instances': [
      {'abstract': VISION, 'title': 'Segmenting images'}, {'abstract': LANGUAGE}]})
  assert status == 200
  vision, language = body['predictions']
  predictor = Predictor(first_run['pushed_model_path'])
  expected = predictor.predict([VISION, LANGUAGE], ['Segmenting images', ''])
  for served, local in zip((vision, language), expected):
    assert served[features.LABEL_NAMES_KEY] == predictor.labels
    assert served[features.PROBABILITIES_KEY] == pytest.approx(
        [local.probabilities[label] for label in predictor.labels], abs=1e-6)
    assert [label for label, passes in zip(predictor.labels, served[features.PREDICTED_KEY])
            if passes] == sorted(local.labels, key=predictor.labels.index)
  assert vision[features.TOP_K_LABELS_KEY][0] == 'cs.CV'


def test_columnar_b64_and_row_formats_give_the_same_numbers(server):
  rows = predict(server, {'instances': [{'abstract': VISION}, {'abstract': LANGUAGE}]})[1]
  status, columns = predict(server, {'inputs': {'abstract': [VISION, LANGUAGE]}})
  assert status == 200
  encoded = predict(server, {'signature_name': '', 'client': 'x', 'instances': [
      {'abstract': {'b64': base64.b64encode(text.encode()).decode()}}
      for text in (VISION, LANGUAGE)]})[1]
  assert encoded == rows
  for i, row in enumerate(rows['predictions']):
    for name, value in row.items():
      assert columns['outputs'][name][i] == value, name


def test_serve_examples_takes_b64_tf_examples(server):
  example = tf.train.Example(features=tf.train.Features(feature={
      features.ABSTRACT_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[VISION.encode()])),
      features.TITLE_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[b'']))}))
  status, body = predict(server, {
      'signature_name': features.EXAMPLES_SIGNATURE,
      'instances': [{'b64': base64.b64encode(example.SerializeToString()).decode()}]})
  assert status == 200
  text = predict(server, {'instances': [{'abstract': VISION}]})[1]['predictions'][0]
  assert body['predictions'][0][features.PROBABILITIES_KEY] == pytest.approx(
      text[features.PROBABILITIES_KEY], abs=1e-6)
  status, body = predict(server, {'signature_name': features.EXAMPLES_SIGNATURE,
                                  'instances': [{'b64': base64.b64encode(b'no').decode()}]})
  assert status == 400 and 'Could not parse example input' in body['error']


def test_label_vocabulary_in_columnar_format(server, first_run):
  status, body = predict(server, {'signature_name': features.LABELS_SIGNATURE, 'inputs': {}})
  assert status == 200
  assert body['outputs']['labels'] == Predictor(first_run['pushed_model_path']).labels
  assert len(body['outputs']['thresholds']) == len(body['outputs']['labels'])


def test_explain_warns_about_short_and_unfamiliar_text_and_names_the_evidence(
    server, first_run):
  status, body = predict(server, {'signature_name': features.EXPLAIN_SIGNATURE,
                                  'instances': [{'abstract': VISION}, {'abstract': SHORT},
                                                {'abstract': GERMAN}]})
  assert status == 200
  vision, short, german = body['predictions']
  assert [p[features.INPUT_WARNING_KEY] for p in body['predictions']] == [
      '', features.TOO_SHORT, features.UNFAMILIAR]
  assert short[features.NGRAMS_KEY] == 19  # 10 words, 9 word pairs.
  assert german[features.KNOWN_NGRAMS_KEY] < german[features.NGRAMS_KEY] / 2
  assert vision[features.KNOWN_NGRAMS_KEY] > vision[features.NGRAMS_KEY] / 2
  assert vision[features.TOP_K_LABELS_KEY][0] == 'cs.CV'
  evidence = [ngram for ngram, score in zip(vision[features.EVIDENCE_NGRAMS_KEY][0],
                                            vision[features.EVIDENCE_SCORES_KEY][0]) if score > 0]
  assert evidence and all(ngram in VISION.lower() for ngram in evidence)
  # Never one of the most frequent unigrams of train, for any of the top-k labels.
  vocabulary = [ngram.decode('utf-8') for ngram in tft.TFTransformOutput(
      first_run['artifacts'][definition.TRANSFORM][specs.TRANSFORM_GRAPH_KEY]
  ).vocabulary_by_name(features.NGRAM_VOCABULARY)]
  common = set(export.most_frequent_unigrams(
      vocabulary, TrainerSettings().evidence_skips_common_unigrams))
  named = {ngram for label_ngrams in vision[features.EVIDENCE_NGRAMS_KEY]
           for ngram in label_ngrams}
  assert len(common) == 100 and not named & common
  assert vision[features.EVIDENCE_SCORES_KEY][0] == sorted(
      vision[features.EVIDENCE_SCORES_KEY][0], reverse=True)
  # The same probabilities as the default signature.
  plain = predict(server, {'instances': [{'abstract': VISION}]})[1]['predictions'][0]
  assert vision[features.PROBABILITIES_KEY] == pytest.approx(
      plain[features.PROBABILITIES_KEY], abs=1e-6)


def test_both_text_signatures_suggest_nothing_without_evidence(first_run):
  model = tf.saved_model.load(first_run['pushed_model_path'])
  cases = [*NO_EVIDENCE.values(), (VISION, '')]
  inputs = dict(abstract=tf.constant([abstract for abstract, _ in cases]),
                title=tf.constant([''] * len(cases)))
  for name in (features.SERVING_SIGNATURE, features.EXPLAIN_SIGNATURE):
    outputs = model.signatures[name](**inputs)
    assert [w.decode() for w in outputs[features.INPUT_WARNING_KEY].numpy()] == [
        warning for _, warning in cases], name
    predicted = outputs[features.PREDICTED_KEY].numpy()
    assert not predicted[:-1].any() and predicted[-1].any(), name


def test_the_default_signature_warns_in_both_formats_and_keeps_its_rows(server):
  cases = {case: abstract for case, (abstract, _) in NO_EVIDENCE.items() if abstract}
  status, body = predict(server, {'instances': [{'abstract': abstract}
                                                for abstract in [*cases.values(), VISION]]})
  assert status == 200
  *warned, vision = body['predictions']
  for case, row in zip(cases, warned):
    assert row[features.INPUT_WARNING_KEY] == NO_EVIDENCE[case][1], case
    assert not any(row[features.PREDICTED_KEY]), case
    # The rest of the row as before: every label's probability and name, the top k.
    assert len(row[features.PROBABILITIES_KEY]) == len(row[features.LABEL_NAMES_KEY])
    assert len(row[features.TOP_K_LABELS_KEY]) == len(row[features.TOP_K_PROBABILITIES_KEY])
  assert vision[features.INPUT_WARNING_KEY] == '' and any(vision[features.PREDICTED_KEY])
  status, body = predict(server, {'inputs': {'abstract': list(cases.values())}})
  assert status == 200
  assert body['outputs'][features.INPUT_WARNING_KEY] == [NO_EVIDENCE[c][1] for c in cases]
  # An empty abstract is refused before the model sees it.
  status, body = predict(server, {'instances': [{'abstract': '', 'title': 'A title'}]})
  assert status == 400 and body['error'] == 'instances[0].abstract is empty'


def test_predict_command_says_why_it_suggests_nothing(first_run, capsys):
  model = os.path.dirname(first_run['pushed_model_path'])
  abstract, warning = NO_EVIDENCE['Chinese']
  assert predict_command.main([abstract, '--model', model]) == 0
  printed = capsys.readouterr().out
  assert f'No suggestion: {WARNING_TEXTS[warning]}.' in printed
  assert '(above threshold)' not in printed
  assert predict_command.main([VISION, '--model', model]) == 0
  printed = capsys.readouterr().out
  assert 'No suggestion' not in printed and '(above threshold)' in printed


def test_a_batch_is_predicted_in_one_model_call(server, monkeypatch):
  predictor = server.models.current[1]
  calls = []
  original = predictor.run
  monkeypatch.setattr(predictor, 'run', lambda signature, inputs: calls.append(
      len(inputs[features.ABSTRACT_KEY])) or original(signature, inputs))
  status, body = predict(server, {'instances': [{'abstract': VISION}] * 8})
  assert status == 200 and len(body['predictions']) == 8
  assert calls == [8]


@pytest.mark.parametrize('body, status, message', [
    ('{"instances": [{"abstract": "\\udc00 alone"}]}', 400, 'lone surrogate'),
    ({'instances': [{'abstract': VISION}] * 9}, 413, '9 inputs; at most 8'),
    ({'instances': [{'abstract': 'word ' * 1001}]}, 413, 'at most 5,000'),
    ({'inputs': {'abstract': 'x' * 70_000}}, 413, 'the request body has 70,'),
    ('not json', 400, 'not valid JSON'),
])
def test_bad_requests_get_a_4xx_that_says_what_is_wrong(server, body, status, message):
  answer_status, answer = predict(server, body)
  assert answer_status == status
  assert message in answer['error']


@pytest.mark.parametrize('method, path, status, message', [
    ('POST', '/v1/models/other-model:predict', 404, "model 'other-model' not found"),
    ('GET', '/v1/models/other-model', 404, 'not found'),
    ('GET', f'/v1/models/{MODEL}/versions/999/metadata', 404, 'version 999'),
    ('GET', '/v1/models/../../etc/passwd', 404, 'no such endpoint'),
    ('GET', '/v1/models/%2e%2e%2fetc/metadata', 404, 'not found'),
    ('GET', '/etc/passwd', 404, 'no such endpoint'),
    ('GET', PREDICT, 405, 'GET is not allowed'),
    ('POST', f'/v1/models/{MODEL}', 405, 'POST is not allowed'),
    ('PUT', f'/v1/models/{MODEL}', 405, 'PUT is not allowed'),
    ('DELETE', PREDICT, 405, 'DELETE is not allowed'),
    ('OPTIONS', f'/v1/models/{MODEL}/metadata', 405, 'OPTIONS is not allowed'),
    ('PATCH', '/', 405, 'PATCH is not allowed'),
])
def test_unknown_models_paths_and_methods_get_json_errors(server, method, path, status,
                                                          message):
  answer_status, response, answer = call(server, method, path,
                                         body=b'{}' if method == 'POST' else None)
  assert answer_status == status
  assert message in answer['error']
  if status == 405:
    assert response.getheader('Allow') in ('GET', 'POST')


@pytest.mark.parametrize('content_type, status', [
    (None, 415), ('text/plain', 415), ('application/x-www-form-urlencoded', 415),
    ('multipart/form-data; boundary=x', 415), ('application/json; charset=utf-8', 200),
    ('Application/JSON', 200)])
def test_a_post_must_say_its_body_is_json(server, content_type, status):
  """The three types a web page may POST to another origin without asking it first,
  and none, are refused: a page a user visits cannot drive their local server."""
  got, _, answer = call(server, 'POST', PREDICT, {'instances': [{'abstract': VISION}]},
                        headers={'Content-Type': content_type} if content_type else {})
  assert got == status
  if status == 415:
    assert 'is not application/json' in answer['error']


@pytest.mark.parametrize('host, status', [
    ('localhost', 200), ('LOCALHOST:8501', 200), ('127.0.0.1:1', 200), ('[::1]:8501', 200),
    ('attacker.example', 400), ('attacker.example:8501', 400), ('127.0.0.2', 400)])
def test_on_loopback_only_local_host_names_are_answered(server, host, status):
  """A page whose DNS name is rebound to 127.0.0.1 sends its own name as Host."""
  got, _, answer = call(server, 'GET', f'/v1/models/{MODEL}', headers={'Host': host})
  assert got == status
  if status == 400:
    assert 'is not one this server answers to' in answer['error']


def test_the_host_allow_list_applies_where_it_is_set():
  assert ServerSettings(host='0.0.0.0').hosts is None  # Any, as TF Serving.
  assert ServerSettings(host='0.0.0.0', allowed_hosts=('Models.example',)).hosts == {
      'models.example'}
  assert 'localhost' in ServerSettings().hosts


def test_help_has_a_line_for_every_flag(capsys):
  from serving.server import parse_settings  # pylint: disable=g-import-not-at-top
  with pytest.raises(SystemExit):
    parse_settings(['--help'])
  text = ' '.join(capsys.readouterr().out.split())
  for field in dataclasses.fields(ServerSettings):
    flag = '--' + field.name.replace('_', '-')
    assert f'{flag} ' in text and ' '.join(field.metadata['help'].split()) in text, flag
  assert parse_settings(['--no-enable-batching', '--allowed-hosts', 'a.example, b']) == \
      ServerSettings(enable_batching=False, allowed_hosts=('a.example', 'b'))


def test_head_gets_405_and_no_body(server):
  status, response, body = call(server, 'HEAD', f'/v1/models/{MODEL}')
  assert status == 405 and response.getheader('Allow') == 'GET' and body == ''


def test_a_chunked_body_is_read_and_limited(server):
  def send_chunked(chunks):
    connection = http.client.HTTPConnection(*server.server_address, timeout=30)
    connection.request('POST', PREDICT, body=iter(chunks), encode_chunked=True,
                       headers={'Content-Type': 'application/json'})
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    return response.status, answer

  body = json.dumps({'instances': [{'abstract': VISION}]}).encode()
  status, answer = send_chunked([body[:10], body[10:40], body[40:]])
  assert status == 200 and answer['predictions'][0][features.TOP_K_LABELS_KEY][0] == 'cs.CV'
  status, answer = send_chunked([b'{"inputs": {"abstract": "'] + [b'x' * 8192] * 20 + [b'"}}'])
  assert status == 413 and 'more than 65,' in answer['error']
  # Far past the limit: answered at once, the connection closed.
  with pytest.raises((ConnectionError, http.client.HTTPException)):
    send_chunked([b'x' * 8192] * 10_000)


def test_a_gzip_body_is_inflated_and_limited_after_inflation(server):
  def send_gzip(body):
    return call(server, 'POST', PREDICT, gzip.compress(body), headers={
        'Content-Type': 'application/json', 'Content-Encoding': 'gzip'})

  status, _, answer = send_gzip(json.dumps({'instances': [{'abstract': VISION}]}).encode())
  assert status == 200 and answer['predictions'][0][features.TOP_K_LABELS_KEY][0] == 'cs.CV'
  bomb = b'{"inputs": {"abstract": "' + b'x' * (50 << 20) + b'"}}'  # 50 MB, 49 KB gzipped.
  status, _, answer = send_gzip(bomb)
  assert status == 413 and 'more than' in answer['error']
  assert predict(server, {'instances': [{'abstract': VISION}]})[0] == 200


def _read_all(sock: socket.socket) -> bytes:
  data = b''
  while chunk := sock.recv(4096):
    data += chunk
  return data


@pytest.fixture(scope='module')
def strict_server(first_run, tmp_path_factory):
  """Short deadlines and few connections, to test them in seconds."""
  server = start_server(serving_root_copy(first_run, tmp_path_factory.mktemp('strict')),
                        header_seconds=1, body_seconds=1, max_connections=4)
  yield server
  server.stop()


@pytest.mark.parametrize('sent', [
    b'GET / HTTP/1.1\r\nHost: localhost\r\n',  # Headers never finished (slowloris).
    # A body shorter than its Content-Length.
    b'POST ' + PREDICT.encode() + b' HTTP/1.1\r\nHost: localhost\r\n'
    b'Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{"in',
    b'',  # Connected, said nothing.
])
def test_a_slow_client_is_cut_off_at_its_deadline(strict_server, sent):
  with socket.create_connection(strict_server.server_address, timeout=10) as sock:
    started = time.monotonic()
    sock.sendall(sent)
    assert _read_all(sock) == b''  # Closed, nothing answered.
    assert 0.8 < time.monotonic() - started < 5
  assert call(strict_server, 'GET', f'/v1/models/{MODEL}')[0] == 200


@pytest.fixture(scope='module')
def capped_server(first_run, tmp_path_factory):
  """Few connections, with a header deadline long enough that idle connections stay
  open while the test fills the cap, however busy the machine is."""
  server = start_server(serving_root_copy(first_run, tmp_path_factory.mktemp('capped')),
                        header_seconds=30, max_connections=4, write_seconds=1)
  yield server
  server.stop()


def test_connections_over_the_cap_get_503_and_the_server_recovers(capped_server):
  with contextlib.ExitStack() as stack:
    idle = [stack.enter_context(socket.create_connection(capped_server.server_address))
            for _ in range(4)]
    _wait_for(lambda: capped_server.open_connections == 4, seconds=20)
    with socket.create_connection(capped_server.server_address, timeout=10) as extra:
      answer = _read_all(extra)
    assert answer.startswith(b'HTTP/1.1 503 ') and b'connection limit' in answer
    del idle
  _wait_for(lambda: capped_server.open_connections == 0, seconds=20)
  assert call(capped_server, 'GET', f'/v1/models/{MODEL}')[0] == 200
  metrics = scrape(capped_server)
  assert metrics['arxiv_serving_refused_connections_total'][()] >= 1


def test_keeps_serving_through_a_burst_of_bad_requests_mixed_with_good_ones(server):
  bad = [('POST', PREDICT, b'{"instances": [{"abstract": 7}]}'),
         ('POST', PREDICT, b'not json'),
         ('POST', PREDICT, b'{"inputs": {"abstract": "' + b'x' * 70_000 + b'"}}'),
         ('GET', '/v1/models/../../../etc/shadow', None),
         ('POST', '/v1/models/nobody:predict', b'{}')]
  good = ('POST', PREDICT, json.dumps({'instances': [{'abstract': LANGUAGE}]}).encode())
  requests = [bad[i % len(bad)] if i % 2 else good for i in range(200)]
  statuses = [None] * len(requests)

  def send(indices):
    for i in indices:
      statuses[i] = call(server, *requests[i])[0]

  threads = [threading.Thread(target=send, args=(range(k, len(requests), 8),))
             for k in range(8)]
  for thread in threads:
    thread.start()
  for thread in threads:
    thread.join()
  assert sum(status == 200 for status in statuses) == 100
  assert sorted(set(statuses[1::2])) == [400, 404, 413]
  status, body = predict(server, {'instances': [{'abstract': VISION}]})
  assert status == 200 and body['predictions'][0][features.TOP_K_LABELS_KEY][0] == 'cs.CV'


def scrape(server):
  """{metric sample name: {label values: value}} from the Prometheus endpoint."""
  status, response, text = call(server, 'GET', METRICS_PATH)
  assert status == 200 and response.getheader('Content-Type').startswith('text/plain')
  samples = {}
  for family in text_string_to_metric_families(text):
    for sample in family.samples:
      samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
  return samples


def test_metrics_count_requests_batches_labels_and_warnings(server, first_run):
  before = scrape(server)
  answers = [predict(server, {'instances': [{'abstract': VISION}] * 3})[1],
             predict(server, {'signature_name': features.EXPLAIN_SIGNATURE,
                              'instances': [{'abstract': SHORT}]})[1]]
  predict(server, 'not json')
  after = scrape(server)
  suggested = sum(prediction[features.PREDICTED_KEY][prediction[
      features.LABEL_NAMES_KEY].index('cs.CV')] for answer in answers
                  for prediction in answer['predictions'])

  def delta(name, **labels):
    key = tuple(sorted(labels.items()))
    return after[name].get(key, 0) - before.get(name, {}).get(key, 0)

  assert delta('arxiv_serving_requests_total', endpoint='predict', method='POST',
               code='200') == 2
  assert delta('arxiv_serving_requests_total', endpoint='predict', method='POST',
               code='400') == 1
  assert delta('arxiv_serving_batch_size_count', signature='serving_default') == 1
  assert delta('arxiv_serving_batch_size_sum', signature='serving_default') == 3
  assert delta('arxiv_serving_abstracts_total', signature='serving_default') == 3
  assert suggested >= 3
  assert delta('arxiv_serving_suggested_labels_total', label='cs.CV') == suggested
  assert delta('arxiv_serving_input_warnings_total', warning=features.TOO_SHORT) == 1
  assert delta('arxiv_serving_request_duration_seconds_count', endpoint='predict') == 3
  version = int(os.path.basename(first_run['pushed_model_path']))
  assert after['arxiv_serving_model_version'][(('model', MODEL),)] == version


def test_odd_methods_cannot_grow_the_metrics(server):
  """Every label value a request sets comes from a fixed set: a flood of invented
  methods (one 20,000 characters long) is counted, under `other`, in one series."""
  before = scrape(server)
  size = len(call(server, 'GET', METRICS_PATH)[2])
  methods = [''.join(random.choices(string.ascii_uppercase, k=12)) for _ in range(1500)]
  for method in methods + ['X' * 20_000]:
    assert call(server, method, '/v1/models/x')[0] in (400, 404, 405)
  after = scrape(server)
  assert len(call(server, 'GET', METRICS_PATH)[2]) < size + 2_000
  others = sum(value for labels, value in after['arxiv_serving_requests_total'].items()
               if ('method', 'other') in labels)
  assert others - sum(value for labels, value in before.get(
      'arxiv_serving_requests_total', {}).items() if ('method', 'other') in labels) == 1501


def test_a_client_that_does_not_read_is_cut_off_at_the_write_deadline(capped_server):
  """Pipelined requests whose answers are never read fill the socket buffers; the
  server closes the connection `write_seconds` later (its header deadline is 30 s)."""
  with socket.socket() as sock:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(capped_server.server_address)
    sock.sendall(b'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n' * 2000)  # The portal page.
    started = time.monotonic()
    _wait_for(lambda: capped_server.open_connections == 0, seconds=20)
    assert time.monotonic() - started < 10
  assert call(capped_server, 'GET', f'/v1/models/{MODEL}')[0] == 200


def test_event_counters_start_at_zero(server):
  samples = scrape(server)
  assert samples['arxiv_serving_model_load_failures_total'] == {(('model', MODEL),): 0.0}
  assert {labels for labels in samples['arxiv_serving_input_warnings_total']} == {
      (('warning', w),) for w in (features.UNSUPPORTED_SCRIPT, features.TOO_SHORT,
                                  features.UNFAMILIAR)}


def test_started_as_documented_it_logs_loads_requests_and_stopping(first_run, tmp_path):
  """`python -m serving.server`, as `make serve` starts it: its own stderr carries a
  line for the model it loads, a JSON line per request, and one for stopping."""
  process = subprocess.Popen(
      [sys.executable, '-m', 'serving.server', '--port', '0', '--serving-root',
       serving_root_copy(first_run, tmp_path)], cwd=REPOSITORY_ROOT,
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  try:
    started = process.stdout.readline()  # 'serving ... at http://127.0.0.1:<port>/'
    port = int(started.rsplit(':', 1)[1].strip(' /\n'))
    connection = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
    connection.request('GET', f'/v1/models/{MODEL}')
    assert connection.getresponse().status == 200
    connection.close()
  finally:
    process.send_signal(signal.SIGINT)
    _, log = process.communicate(timeout=60)
  version = os.path.basename(first_run['pushed_model_path'])
  lines = log.splitlines()
  assert any(f'INFO serving version {version} from ' in line for line in lines), log[-3000:]
  access = [json.loads(line[line.index('{'):]) for line in lines if ' INFO {"time"' in line]
  assert [(e['method'], e['path'], e['status']) for e in access] == [
      ('GET', f'/v1/models/{MODEL}', 200)]
  assert 'INFO stopping: finishing the requests in flight' in log
  assert process.returncode == 0
  # Nothing but the server's own lines: TensorFlow's start-up notices and the
  # libraries' warnings went to the file the first line names.
  assert all(re.match(r'\d{4}-\d\d-\d\d [\d:,]+ INFO ', line) for line in lines), log[:3000]
  library_log = re.search(r'INFO library notices .*: (\S+)$', lines[0]).group(1)
  with open(library_log) as f:
    assert 'FutureWarning' in f.read()
  os.remove(library_log)


def test_every_request_is_one_json_line_in_the_access_log(server, caplog):
  with caplog.at_level(logging.INFO, logger='serving.access'):
    predict(server, {'instances': [{'abstract': VISION}] * 2})
    call(server, 'GET', '/nowhere')
    deadline = time.monotonic() + 5
    while len(caplog.records) < 2 and time.monotonic() < deadline:
      time.sleep(0.05)
  entries = [json.loads(record.getMessage()) for record in caplog.records
             if record.name == 'serving.access']
  assert [(e['method'], e['path'], e['status'], e['batch_size']) for e in entries] == [
      ('POST', PREDICT, 200, 2), ('GET', '/nowhere', 404, 0)]
  assert entries[0]['endpoint'] == 'predict' and entries[0]['ms'] > 0
  assert entries[0]['request_bytes'] > len(VISION) and entries[0]['client'] == '127.0.0.1'


def test_shutdown_lets_the_request_in_flight_finish_then_refuses(first_run, tmp_path):
  server = start_server(serving_root_copy(first_run, tmp_path))
  predictor = server.models.current[1]
  original = predictor.run
  started = threading.Event()

  def slow_run(signature, inputs):
    started.set()
    time.sleep(1.5)
    return original(signature, inputs)

  predictor.run = slow_run
  result = {}
  client = threading.Thread(target=lambda: result.update(
      answer=predict(server, {'instances': [{'abstract': VISION}]})))
  client.start()
  assert started.wait(30)
  address = server.server_address
  server.stop()
  client.join(30)
  assert result['answer'][0] == 200
  with pytest.raises(ConnectionRefusedError):
    socket.create_connection(address, timeout=5)


def test_a_newer_push_is_served_and_a_broken_one_is_not(first_run, tmp_path):
  root = serving_root_copy(first_run, tmp_path)
  server = start_server(root)
  try:
    [first] = os.listdir(root)
    newer = str(int(first) + 1)
    shutil.copytree(os.path.join(root, first), os.path.join(root, newer))
    _wait_for(lambda: server.models.current[0] == int(newer))
    broken = os.path.join(root, str(int(first) + 2))
    os.makedirs(broken)
    with open(os.path.join(broken, 'saved_model.pb'), 'wb') as f:
      f.write(b'not a SavedModel')
    _wait_for(lambda: len(call(server, 'GET', f'/v1/models/{MODEL}')[2][
        'model_version_status']) == 2)
    states = call(server, 'GET', f'/v1/models/{MODEL}')[2]['model_version_status']
    assert [(s['version'], s['state']) for s in states] == [(newer, 'AVAILABLE'),
                                                             (str(int(first) + 2), 'END')]
    message = states[1]['status']['error_message']
    assert message.endswith('the server log says why') and '/' not in message  # No paths.
    status, response, _ = call(server, 'POST', PREDICT, {'instances': [{'abstract': VISION}]})
    assert status == 200 and response.getheader('X-Model-Version') == newer
    assert scrape(server)['arxiv_serving_model_load_failures_total'][(('model', MODEL),)] == 1
  finally:
    server.stop()


def test_without_a_model_it_answers_503_until_one_is_pushed(first_run, tmp_path):
  root = str(tmp_path / 'empty_root')
  server = start_server(root)
  try:
    status, answer = predict(server, {'instances': [{'abstract': VISION}]})
    assert status == 503 and 'no model version is loaded' in answer['error']
    assert '/' not in answer['error']  # The server's paths stay in its log.
    shutil.copytree(first_run['pushed_model_path'], os.path.join(root, '7'))
    _wait_for(lambda: server.models.current is not None)
    assert predict(server, {'instances': [{'abstract': VISION}]})[0] == 200
  finally:
    server.stop()


def _wait_for(condition, seconds=60):
  deadline = time.monotonic() + seconds
  while not condition():
    assert time.monotonic() < deadline, 'timed out'
    time.sleep(0.1)


def test_default_limits_take_a_batch_of_1000_abstracts_and_explain_fewer(first_run, tmp_path):
  limits = {name: getattr(ServerSettings(), name) for name in (
      'max_body_bytes', 'max_abstract_chars', 'max_batch_size', 'explain_max_batch_size')}
  server = start_server(serving_root_copy(first_run, tmp_path), **limits)
  try:
    papers = [{'title': row[0], 'abstract': row[1]} for row in sample_rows(1000)]
    status, body = predict(server, {'instances': papers})
    assert status == 200 and len(body['predictions']) == 1000
    status, body = predict(server, {'signature_name': features.EXPLAIN_SIGNATURE,
                                    'instances': papers[:limits['explain_max_batch_size'] + 1]})
    assert status == 413 and f'at most {limits["explain_max_batch_size"]} per request' in \
        body['error']
  finally:
    server.stop()


def test_concurrent_requests_share_a_model_call_and_get_their_own_answers(first_run, tmp_path):
  """One model call at a time, held while five more requests arrive: they go as one
  call of five, and each answer is what the abstract alone gets."""
  server = start_server(serving_root_copy(first_run, tmp_path), prediction_threads=1)
  try:
    abstracts = [row[1] for row in sample_rows(6)]
    alone = [predict(server, {'instances': [{'abstract': a}]})[1]['predictions'][0]
             for a in abstracts]
    predictor = server.models.current[1]
    original, calls, release = predictor.run, [], threading.Event()

    def held_run(signature, inputs):
      calls.append(len(inputs[features.ABSTRACT_KEY]))
      if len(calls) == 1:
        release.wait(30)
      return original(signature, inputs)

    predictor.run = held_run
    answers = [None] * 6

    def client(i):
      answers[i] = predict(server, {'instances': [{'abstract': abstracts[i]}]})

    threads = [threading.Thread(target=client, args=(0,))]
    threads[0].start()
    _wait_for(lambda: calls == [1])
    threads += [threading.Thread(target=client, args=(i,)) for i in range(1, 6)]
    for thread in threads[1:]:
      thread.start()
    _wait_for(lambda: len(server.batcher._queue) == 5)  # pylint: disable=protected-access
    release.set()
    for thread in threads:
      thread.join(60)
    assert calls == [1, 5]
    for (status, body), expected in zip(answers, alone):
      assert status == 200
      assert body['predictions'][0][features.PREDICTED_KEY] == expected[features.PREDICTED_KEY]
      assert max(abs(p - q) for p, q in zip(body['predictions'][0][features.PROBABILITIES_KEY],
                                           expected[features.PROBABILITIES_KEY])) < 1e-5
    call_sizes = scrape(server)['arxiv_serving_model_call_size_sum']
    assert call_sizes[(('signature', features.SERVING_SIGNATURE),)] == 6 + 6
  finally:
    server.stop()


# Requests for the fuzz test below: TF Serving-shaped JSON with random parts, random
# JSON, random bytes, and byte-level mutations of all of these.
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) |
    st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)
_TEXT = (st.sampled_from([VISION, SHORT, '', ' ', '\udc00']) | st.text(max_size=40) |
         st.fixed_dictionaries({'b64': st.sampled_from(['', '!!', 'Zm9v']) |
                                st.text(max_size=12)}) | _JSON)
_INSTANCE = st.dictionaries(st.sampled_from(['abstract', 'title', 'examples', 'x']), _TEXT,
                            max_size=3) | _TEXT
_REQUEST = st.dictionaries(
    st.sampled_from(['instances', 'inputs', 'signature_name', 'x']),
    st.lists(_INSTANCE, max_size=4) | st.dictionaries(
        st.sampled_from(['abstract', 'title', 'examples']), st.lists(_TEXT, max_size=3) |
        _TEXT, max_size=3) | st.sampled_from([
            features.SERVING_SIGNATURE, features.EXPLAIN_SIGNATURE, features.EXAMPLES_SIGNATURE,
            features.LABELS_SIGNATURE, features.TRANSFORM_SIGNATURE, '']) | _JSON,
    max_size=3)


def _mutated(body: bytes, at: int, cut: int, insert: bytes) -> bytes:
  at = at % (len(body) + 1)
  return body[:at] + insert + body[at + cut:]


_BODY = st.one_of(
    _REQUEST.map(lambda request: json.dumps(request).encode('utf-8', 'surrogatepass')),
    _JSON.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=64))
_BODY = _BODY | st.builds(_mutated, _BODY, st.integers(0, 1000), st.integers(0, 3),
                          st.binary(max_size=3))


@hypothesis.settings(max_examples=400, deadline=None, derandomize=True,
                     suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(body=_BODY, gzipped=st.booleans())
def test_no_request_body_gets_a_5xx(server, body, gzipped):
  """Whatever the body, the answer is a 200 or a 4xx that says what is wrong in JSON."""
  headers = {'Content-Type': 'application/json'}
  if gzipped:
    body, headers['Content-Encoding'] = gzip.compress(body), 'gzip'
  status, _, answer = call(server, 'POST', PREDICT, body, headers=headers)
  assert status == 200 or (400 <= status < 500 and answer['error']), (status, answer)
