"""The TF Serving-compatible server and the portal page, against the pipeline's model.

The model is the one the session's end-to-end run pushed (`first_run`); each server
here serves a copy of its serving root, listening on a free loopback port.
"""

import http.client
import json
import os
import shutil
import threading
import time

import pytest

from components import features
from serving.predictor import Predictor
from serving.server import PredictionServer, ServerSettings
from tests.test_pipeline_e2e import LANGUAGE, VISION

MODEL = 'arxiv-subject-areas'
LIMITS = dict(max_body_bytes=64 * 1024, max_abstract_chars=5_000, max_batch_size=8)


def _serving_root_copy(first_run, directory) -> str:
  pushed = first_run['pushed_model_path']
  root = str(directory / 'serving_root')
  shutil.copytree(pushed, os.path.join(root, os.path.basename(pushed)))
  return root


def _start(serving_root: str, **overrides) -> PredictionServer:
  settings = ServerSettings(serving_root=serving_root, model_name=MODEL, port=0,
                            **{**LIMITS, 'poll_seconds': 0.2, **overrides})
  server = PredictionServer(settings)
  threading.Thread(target=server.serve_forever, daemon=True).start()
  return server


@pytest.fixture(scope='module')
def server(first_run, tmp_path_factory):
  server = _start(_serving_root_copy(first_run, tmp_path_factory.mktemp('serving')))
  yield server
  server.shutdown()
  server.server_close()


def call(server, method, path, body=None, headers=None):
  """(status, decoded JSON or text) of one request on a fresh connection."""
  connection = http.client.HTTPConnection(*server.server_address[:2], timeout=60)
  if isinstance(body, (dict, list)):
    body = json.dumps(body)
  connection.request(method, path, body=body, headers=headers or {})
  response = connection.getresponse()
  payload = response.read().decode('utf-8')
  connection.close()
  if response.getheader('Content-Type', '').startswith('application/json'):
    return response.status, json.loads(payload)
  return response.status, payload


def predict(server, request, path=f'/v1/models/{MODEL}:predict'):
  return call(server, 'POST', path, request)


def test_binds_to_loopback_by_default(server):
  assert ServerSettings().host == '127.0.0.1'
  assert server.server_address[0] == '127.0.0.1'


def test_model_status_reports_the_serving_version(server, first_run):
  status, body = call(server, 'GET', f'/v1/models/{MODEL}')
  version = os.path.basename(first_run['pushed_model_path'])
  assert status == 200
  assert body == {'model_version_status': [{
      'version': version, 'state': 'AVAILABLE',
      'status': {'error_code': 'OK', 'error_message': ''}}]}
  assert call(server, 'GET', f'/v1/models/{MODEL}/versions/{version}')[0] == 200


def test_metadata_describes_the_serving_signature(server):
  status, body = call(server, 'GET', f'/v1/models/{MODEL}/metadata')
  assert status == 200
  signature = body['metadata']['signature_def']['signature_def'][features.SERVING_SIGNATURE]
  assert set(signature['inputs']) == {features.ABSTRACT_KEY, features.TITLE_KEY}
  assert signature['inputs'][features.ABSTRACT_KEY]['dtype'] == 'DT_STRING'
  assert {features.PROBABILITIES_KEY, features.PREDICTED_KEY, features.LABEL_NAMES_KEY,
          features.TOP_K_LABELS_KEY} <= set(signature['outputs'])
  assert signature['outputs'][features.PROBABILITIES_KEY]['dtype'] == 'DT_FLOAT'


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


def test_columnar_format_gives_the_same_numbers_as_rows(server):
  rows = predict(server, {'instances': [{'abstract': VISION}, {'abstract': LANGUAGE}]})[1]
  status, columns = predict(server, {'inputs': {'abstract': [VISION, LANGUAGE]}})
  assert status == 200
  for i, row in enumerate(rows['predictions']):
    for name, value in row.items():
      assert columns['outputs'][name][i] == value, name


def test_a_batch_is_predicted_in_one_model_call(server, monkeypatch):
  predictor = server.models.current[1]
  calls = []
  original = predictor.outputs
  monkeypatch.setattr(predictor, 'outputs',
                      lambda abstracts, titles: calls.append(len(abstracts)) or original(
                          abstracts, titles))
  status, body = predict(server, {'instances': [{'abstract': VISION}] * 8})
  assert status == 200 and len(body['predictions']) == 8
  assert calls == [8]


@pytest.mark.parametrize('body, status, message', [
    ('{"instances": [', 400, 'not valid JSON'),
    (b'\xff\xfe', 400, 'not valid JSON'),
    ('[' * 50_000, 400, 'nests too deeply'),
    ([VISION], 400, 'must be a JSON object'),
    ({'abstract': VISION}, 400, 'exactly one of "instances"'),
    ({'instances': [{'abstract': VISION}], 'inputs': {}}, 400, 'exactly one of'),
    ({'instances': VISION}, 400, '"instances" must be a list'),
    ({'instances': [VISION]}, 400, 'instances[0] must be an object'),
    ({'instances': []}, 400, 'holds no abstract'),
    ({'instances': [{'title': 'x'}]}, 400, 'instances[0] has no "abstract"'),
    ({'instances': [{'abstract': 3}]}, 400, 'instances[0].abstract must be a string; got a number'),
    ({'instances': [{'abstract': VISION, 'title': None}]}, 400, 'instances[0].title must be a '
     'string; got null'),
    ({'instances': [{'abstract': VISION}, {'abstract': '  \n'}]}, 400, 'instances[1].abstract '
     'is empty'),
    ({'instances': [{'abstract': VISION, 'year': 2020}]}, 400, 'unknown keys year'),
    ({'inputs': {'abstract': [VISION], 'title': ['a', 'b']}}, 400, 'inputs.title has 2 values'),
    ({'inputs': {'abstract': {'text': VISION}}}, 400, 'inputs.abstract must be a string or a '
     'list'),
    ({'instances': [{'abstract': VISION}], 'signature_name': 'serve_examples'}, 400,
     "signature_name 'serve_examples' is not served"),
    ({'instances': [{'abstract': VISION}] * 9}, 413, '9 abstracts; at most 8'),
    ({'instances': [{'abstract': 'word ' * 1001}]}, 413, 'instances[0].abstract has 5,005 '
     'characters; at most 5,000'),
    ({'inputs': {'abstract': 'x' * 70_000}}, 413, 'at most 65,536'),
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
    ('GET', f'/v1/models/{MODEL}:predict', 405, 'GET is not allowed'),
    ('POST', f'/v1/models/{MODEL}', 405, 'POST is not allowed'),
])
def test_unknown_models_paths_and_methods(server, method, path, status, message):
  answer_status, answer = call(server, method, path, body=b'{}' if method == 'POST' else None)
  assert answer_status == status
  assert message in answer['error']


def test_keeps_serving_through_a_burst_of_bad_requests_mixed_with_good_ones(server):
  bad = [('POST', f'/v1/models/{MODEL}:predict', b'{"instances": [{"abstract": 7}]}'),
         ('POST', f'/v1/models/{MODEL}:predict', b'not json'),
         ('POST', f'/v1/models/{MODEL}:predict', b'{"inputs": {"abstract": "' + b'x' * 70_000 +
          b'"}}'),
         ('GET', '/v1/models/../../../etc/shadow', None),
         ('POST', '/v1/models/nobody:predict', b'{}')]
  good = ('POST', f'/v1/models/{MODEL}:predict',
          json.dumps({'instances': [{'abstract': LANGUAGE}]}).encode())
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


def test_a_newer_push_is_served_and_a_broken_one_is_not(first_run, tmp_path):
  root = _serving_root_copy(first_run, tmp_path)
  server = _start(root)
  try:
    [first] = os.listdir(root)
    newer = str(int(first) + 1)
    shutil.copytree(os.path.join(root, first), os.path.join(root, newer))
    _wait_for(lambda: server.models.current[0] == int(newer))
    broken = os.path.join(root, str(int(first) + 2))
    os.makedirs(broken)
    with open(os.path.join(broken, 'saved_model.pb'), 'wb') as f:
      f.write(b'not a SavedModel')
    _wait_for(lambda: len(call(server, 'GET', f'/v1/models/{MODEL}')[1][
        'model_version_status']) == 2)
    states = call(server, 'GET', f'/v1/models/{MODEL}')[1]['model_version_status']
    assert [(s['version'], s['state']) for s in states] == [(newer, 'AVAILABLE'),
                                                             (str(int(first) + 2), 'END')]
    assert states[1]['status']['error_message']
    assert predict(server, {'instances': [{'abstract': VISION}]})[0] == 200
  finally:
    server.shutdown()
    server.server_close()


def test_without_a_model_it_answers_503_until_one_is_pushed(first_run, tmp_path):
  root = str(tmp_path / 'empty_root')
  server = _start(root)
  try:
    status, answer = predict(server, {'instances': [{'abstract': VISION}]})
    assert status == 503 and 'no model version is loaded' in answer['error']
    shutil.copytree(first_run['pushed_model_path'], os.path.join(root, '7'))
    _wait_for(lambda: server.models.current is not None)
    assert predict(server, {'instances': [{'abstract': VISION}]})[0] == 200
  finally:
    server.shutdown()
    server.server_close()


def _wait_for(condition, seconds=60):
  deadline = time.monotonic() + seconds
  while not condition():
    assert time.monotonic() < deadline, 'timed out'
    time.sleep(0.1)


def test_page_suggests_subject_areas_in_a_browser(server, browser):
  from selenium.webdriver.common.by import By  # pylint: disable=g-import-not-at-top
  from selenium.webdriver.support import expected_conditions  # pylint: disable=g-import-not-at-top
  from selenium.webdriver.support.ui import WebDriverWait  # pylint: disable=g-import-not-at-top

  browser.get(server.url + '/')
  browser.find_element(By.ID, 'title').send_keys('Segmenting images with convolutions')
  browser.find_element(By.ID, 'abstract').send_keys(VISION)
  browser.find_element(By.ID, 'suggest').click()
  WebDriverWait(browser, 30).until(
      expected_conditions.visibility_of_element_located((By.ID, 'results')))
  rows = browser.find_elements(By.CSS_SELECTOR, '#results tbody tr')
  assert rows[0].get_attribute('data-label') == 'cs.CV'
  assert 'Computer Vision and Pattern Recognition' in rows[0].text
  assert browser.find_element(By.ID, 'summary').text.startswith(('Suggested:', 'No category'))
  assert browser.find_element(By.ID, 'error').text == ''
  errors = [entry for entry in browser.get_log('browser') if entry['level'] == 'SEVERE']
  assert errors == []
