"""TF Serving REST conformance of serving/protocol.py, without a model or a server.

Each row of the tables is a case of TensorFlow Serving's REST API (its documentation,
tensorflow.org/tfx/serving/api_rest, and its JSON handling): what TF Serving does,
and so what this server must do; the deliberate differences are marked as such.
"""

import base64
import json

import numpy as np
import pytest
import tensorflow as tf

from components import features
from serving import protocol
from serving.protocol import Limits, RequestError

TEXT = {features.ABSTRACT_KEY: tf.TensorSpec([None], tf.string, features.ABSTRACT_KEY),
        features.TITLE_KEY: tf.TensorSpec([None], tf.string, features.TITLE_KEY)}
SIGNATURES = {
    features.SERVING_SIGNATURE: TEXT,
    features.EXPLAIN_SIGNATURE: TEXT,
    features.EXAMPLES_SIGNATURE: {'examples': tf.TensorSpec([None], tf.string, 'examples')},
    features.LABELS_SIGNATURE: {},
}
LIMITS = Limits(max_batch_size=4, max_text_chars=100)
B64_TEXT = base64.b64encode('Graph neural networks'.encode()).decode()


def parse(request):
  body = request if isinstance(request, (bytes, str)) else json.dumps(request)
  return protocol.parse_predict(body.encode() if isinstance(body, str) else body, SIGNATURES,
                                LIMITS)


# (case, request, signature, inputs, row format)
ACCEPTED = [
    ('row format', {'instances': [{'abstract': 'a b', 'title': 't'}]},
     'serving_default', {'abstract': ['a b'], 'title': ['t']}, True),
    ('columnar format', {'inputs': {'abstract': ['a', 'b'], 'title': ['x', 'y']}},
     'serving_default', {'abstract': ['a', 'b'], 'title': ['x', 'y']}, False),
    ('signature_name "" is the default', {'signature_name': '', 'instances': [{'abstract': 'a'}]},
     'serving_default', {'abstract': ['a'], 'title': ['']}, True),
    ('unknown top-level keys are ignored', {'instances': [{'abstract': 'a'}], 'meta': {'x': 1}},
     'serving_default', {'abstract': ['a'], 'title': ['']}, True),
    ('{"b64": ...} for a string', {'instances': [{'abstract': {'b64': B64_TEXT}}]},
     'serving_default', {'abstract': ['Graph neural networks'], 'title': ['']}, True),
    ('another signature by name', {'signature_name': 'explain', 'inputs': {'abstract': 'a'}},
     'explain', {'abstract': ['a'], 'title': ['']}, False),
    ('one input: bare values in rows', {'signature_name': 'serve_examples',
                                        'instances': [{'b64': 'AAE='}, {'b64': 'AgM='}]},
     'serve_examples', {'examples': [b'\x00\x01', b'\x02\x03']}, True),
    ('one input: named in rows', {'signature_name': 'serve_examples',
                                  'instances': [{'examples': {'b64': 'AAE='}}]},
     'serve_examples', {'examples': [b'\x00\x01']}, True),
    ('one input: bare list in columns', {'signature_name': 'serve_examples',
                                         'inputs': [{'b64': 'AAE='}]},
     'serve_examples', {'examples': [b'\x00\x01']}, False),
    ('no input', {'signature_name': 'label_vocabulary', 'inputs': {}},
     'label_vocabulary', {}, False),
    # Differences: `title` may be left out; a lone string in columns is a batch of one.
    ('title left out (difference)', {'instances': [{'abstract': 'a'}]},
     'serving_default', {'abstract': ['a'], 'title': ['']}, True),
    ('a lone string is a batch of one (difference)', {'inputs': {'abstract': 'a'}},
     'serving_default', {'abstract': ['a'], 'title': ['']}, False),
    ('unicode', {'instances': [{'abstract': 'Schrödinger – 量子 🙂'}]},
     'serving_default', {'abstract': ['Schrödinger – 量子 🙂'], 'title': ['']}, True),
]


@pytest.mark.parametrize('case, request_body, signature, inputs, row_format', ACCEPTED,
                         ids=[case[0] for case in ACCEPTED])
def test_accepted_requests(case, request_body, signature, inputs, row_format):
  del case
  parsed = parse(request_body)
  assert parsed.signature_name == signature
  assert parsed.inputs == inputs
  assert parsed.row_format == row_format


# (case, request, status, part of the message)
REFUSED = [
    ('not JSON', '{"instances": [', 400, 'not valid JSON'),
    ('not UTF-8', b'\xff\xfe', 400, 'not valid JSON'),
    ('nested too deeply', '[' * 50_000, 400, 'nests too deeply'),
    ('not an object', ['a'], 400, 'must be a JSON object'),
    ('neither format', {'abstract': 'a'}, 400, 'exactly one of "instances"'),
    ('both formats', {'instances': [{'abstract': 'a'}], 'inputs': {}}, 400, 'exactly one of'),
    ('unknown signature', {'signature_name': 'classify', 'instances': [{'abstract': 'a'}]}, 400,
     "signature_name 'classify' is not one of this model's: explain, label_vocabulary, "
     'serve_examples, serving_default'),
    ('instances not a list', {'instances': 'a'}, 400, '"instances" must be a list'),
    ('a bare value for two inputs', {'instances': ['a']}, 400,
     'instances[0] must be an object with "abstract", "title"; got a string'),
    ('empty batch', {'instances': []}, 400, 'holds no input'),
    ('batch over the limit', {'instances': [{'abstract': 'a'}] * 5}, 413,
     '5 inputs; at most 4'),
    ('a required input missing', {'instances': [{'title': 'x'}]}, 400,
     "instances[0] has no 'abstract'"),
    ('unknown input', {'instances': [{'abstract': 'a', 'year': 2020}]}, 400,
     "instances[0] has unknown keys 'year'"),
    ('a number for a string', {'instances': [{'abstract': 3}]}, 400,
     'instances[0].abstract must be a string or {"b64": ...}; got a number'),
    ('null for a string', {'instances': [{'abstract': 'a', 'title': None}]}, 400,
     'instances[0].title must be a string'),
    ('a lone surrogate', '{"instances": [{"abstract": "x \\ud800 y"}]}', 400,
     'instances[0].abstract is not valid text: it holds a lone surrogate'),
    ('bad base64', {'instances': [{'abstract': {'b64': '***'}}]}, 400,
     'instances[0].abstract.b64 is not valid base64'),
    ('base64 that is not UTF-8 text', {'instances': [{'abstract': {'b64': '//4='}}]}, 400,
     'instances[0].abstract.b64 is not UTF-8 text'),
    ('blank abstract', {'instances': [{'abstract': 'a'}, {'abstract': ' \n'}]}, 400,
     'instances[1].abstract is empty'),
    ('text over the limit', {'instances': [{'abstract': 'x' * 101}]}, 413,
     'instances[0].abstract has 101 characters; at most 100'),
    ('columns of different lengths', {'inputs': {'abstract': ['a'], 'title': ['a', 'b']}}, 400,
     'inputs.title has 2 values but inputs.abstract has 1'),
    ('columns not an object', {'inputs': ['a']}, 400, '"inputs" must be an object'),
    ('an integer over 4,300 digits, under an ignored key',
     '{"instances": [{"abstract": "a"}], "x": ' + '9' * 4301 + '}', 400,
     'the request body is not valid JSON: Exceeds the limit (4300)'),
    ('a no-input signature given input', {'signature_name': 'label_vocabulary',
                                           'instances': [{}]}, 400, 'takes no input'),
]


@pytest.mark.parametrize('case, request_body, status, message', REFUSED,
                         ids=[case[0] for case in REFUSED])
def test_refused_requests_say_what_is_wrong(case, request_body, status, message):
  del case
  with pytest.raises(RequestError) as refused:
    parse(request_body)
  assert refused.value.status == status
  assert message in str(refused.value)


@pytest.mark.parametrize('path, expected', [
    ('/v1/models/m', protocol.ModelPath('m', None, protocol.STATUS)),
    ('/v1/models/m/versions/12', protocol.ModelPath('m', 12, protocol.STATUS)),
    ('/v1/models/m/metadata', protocol.ModelPath('m', None, protocol.METADATA)),
    ('/v1/models/m/versions/3:predict', protocol.ModelPath('m', 3, protocol.PREDICT)),
    ('/v1/models/../../etc/passwd', None),
    ('/etc/passwd', None),
])
def test_model_paths(path, expected):
  assert protocol.parse_model_path(path) == expected


@pytest.mark.parametrize('path, status, message', [
    ('/v1/models/m/versions/abc', 400, "version 'abc' is not a number"),
    ('/v1/models/m/versions/\u00b2', 400, "version '\u00b2' is not a number"),
    ('/v1/models/m/labels/stable', 404, "version label 'stable' is not defined"),
    ('/v1/models/m:classify', 400, ':classify is not supported'),
])
def test_malformed_model_paths(path, status, message):
  with pytest.raises(RequestError) as refused:
    protocol.parse_model_path(path)
  assert refused.value.status == status and message in str(refused.value)


def test_status_of_one_version_and_of_an_unknown_one():
  versions = [protocol.version_status(7, 'AVAILABLE', 'OK', ''),
              protocol.version_status(8, 'END', 'UNKNOWN', 'broken')]
  assert protocol.status_response(versions, 'm', None) == {'model_version_status': versions}
  assert protocol.status_response(versions, 'm', 8) == {'model_version_status': versions[1:]}
  with pytest.raises(RequestError) as unknown:
    protocol.status_response(versions, 'm', 999)
  assert unknown.value.status == 404 and 'could not find version 999' in str(unknown.value)


def test_responses_in_both_formats_and_a_lone_output_without_its_name():
  outputs = {'p': np.array([[0.5, 0.25], [1.0, 0.0]], np.float32),
             'names': np.array([b'cs.LG', 'Schr\u00f6dinger'.encode()], object)}
  assert protocol.predict_response(outputs, row_format=True, batch_size=2) == {
      'predictions': [{'p': [0.5, 0.25], 'names': 'cs.LG'},
                      {'p': [1.0, 0.0], 'names': 'Schr\u00f6dinger'}]}
  assert protocol.predict_response(outputs, row_format=False, batch_size=2) == {
      'outputs': {'p': [[0.5, 0.25], [1.0, 0.0]], 'names': ['cs.LG', 'Schr\u00f6dinger']}}
  lone = {'p': np.array([0.5, 0.25], np.float32)}
  assert protocol.predict_response(lone, row_format=True, batch_size=2) == {
      'predictions': [0.5, 0.25]}
  assert protocol.predict_response(lone, row_format=False, batch_size=2) == {
      'outputs': [0.5, 0.25]}


def test_bytes_that_are_not_text_come_back_as_b64():
  outputs = {'raw': np.array([b'\xff\x00'], object)}
  assert protocol.predict_response(outputs, row_format=False, batch_size=1) == {
      'outputs': [{'b64': '/wA='}]}


def test_rows_need_every_output_per_input():
  outputs = {'labels': np.array([b'a', b'b', b'c'], object)}
  with pytest.raises(RequestError, match='ask in the columnar format'):
    protocol.predict_response(outputs, row_format=True, batch_size=1)


def test_a_signature_can_take_fewer_inputs_per_request_than_the_others():
  limits = Limits(max_batch_size=4, max_text_chars=100,
                  signature_batch_sizes={features.EXPLAIN_SIGNATURE: 2})
  three = [{'abstract': 'a b'}] * 3
  with pytest.raises(RequestError) as refused:
    protocol.parse_predict(json.dumps({'signature_name': features.EXPLAIN_SIGNATURE,
                                       'instances': three}).encode(), SIGNATURES, limits)
  assert refused.value.status == 413
  assert 'at most 2 per request to this signature' in str(refused.value)
  assert protocol.parse_predict(json.dumps({'instances': three}).encode(), SIGNATURES,
                                limits).batch_size == 3
