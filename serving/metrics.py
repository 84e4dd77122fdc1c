"""What the prediction server counts, in Prometheus' text format.

Served where TF Serving serves its own (`/monitoring/prometheus/metrics`). Requests
and their latency by endpoint and status, the connections refused at the cap, the
model version serving, request and model-call batch sizes, and what the model answers: how often each label
is suggested and how often the text is too short, unfamiliar or in an unsupported
script, so that a change in what authors submit shows on a dashboard before anyone
reads a complaint.
"""

from typing import Dict, Optional

import numpy as np
import prometheus_client

from components import features

_PREFIX = 'arxiv_serving'
# The label values requests can set come from fixed sets, so that no client can grow
# the exposition: a method outside HTTP's common ones is counted as `other`.
METHODS = ('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS')
OTHER = 'other'
INPUT_WARNINGS = (features.UNSUPPORTED_SCRIPT, features.TOO_SHORT, features.UNFAMILIAR)
# Single abstracts are the common case; the server caps a batch (max_batch_size).
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
# Milliseconds to a minute: from one abstract's prediction to a large batch's.
_LATENCY_BUCKETS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60)


class ServerMetrics:
  """The server's metrics, in a registry of their own (one per server: tests run several)."""

  def __init__(self, model_name: str):
    self.registry = prometheus_client.CollectorRegistry()
    self.model_name = model_name
    labels = dict(registry=self.registry)
    self.requests = prometheus_client.Counter(
        f'{_PREFIX}_requests', 'HTTP requests answered, by endpoint, method and status code.',
        ['endpoint', 'method', 'code'], **labels)
    self.latency = prometheus_client.Histogram(
        f'{_PREFIX}_request_duration_seconds',
        'Time from the request\'s headers to the end of the response, by endpoint.',
        ['endpoint'], buckets=_LATENCY_BUCKETS, **labels)
    self.refused_connections = prometheus_client.Counter(
        f'{_PREFIX}_refused_connections',
        'Connections answered 503 and closed because the server held its maximum.', **labels)
    self.open_connections = prometheus_client.Gauge(
        f'{_PREFIX}_open_connections', 'Client connections open now.', **labels)
    self.model_version = prometheus_client.Gauge(
        f'{_PREFIX}_model_version', 'The model version serving (0: none loaded).',
        ['model'], **labels)
    self.model_load_failures = prometheus_client.Counter(
        f'{_PREFIX}_model_load_failures', 'Pushed versions that failed to load.', ['model'],
        **labels)
    self.batch_size = prometheus_client.Histogram(
        f'{_PREFIX}_batch_size', 'Inputs per predict request, by signature.', ['signature'],
        buckets=_BATCH_BUCKETS, **labels)
    self.model_call_size = prometheus_client.Histogram(
        f'{_PREFIX}_model_call_size',
        'Inputs per model call, by signature: above the request sizes when batching merges '
        'requests.', ['signature'], buckets=_BATCH_BUCKETS, **labels)
    self.suggested_labels = prometheus_client.Counter(
        f'{_PREFIX}_suggested_labels',
        'Abstracts for which a label reached its threshold, by label.', ['label'], **labels)
    self.abstracts = prometheus_client.Counter(
        f'{_PREFIX}_abstracts', 'Abstracts predicted, by signature.', ['signature'], **labels)
    self.input_warnings = prometheus_client.Counter(
        f'{_PREFIX}_input_warnings',
        'Abstracts the text signatures flagged (unsupported_script, too_short, unfamiliar).',
        ['warning'],
        **labels)
    self.model_version.labels(model_name).set(0)
    # Series that exist from the start at 0, so that `increase()` sees their first event.
    self.model_load_failures.labels(model_name)
    for warning in INPUT_WARNINGS:
      self.input_warnings.labels(warning)

  def request(self, endpoint: str, method: str, code: int, seconds: float) -> None:
    self.requests.labels(endpoint, method if method in METHODS else OTHER, str(code)).inc()
    self.latency.labels(endpoint).observe(seconds)

  def serving(self, version: Optional[int]) -> None:
    self.model_version.labels(self.model_name).set(version or 0)

  def model_call(self, signature: str, inputs: int) -> None:
    self.model_call_size.labels(signature).observe(inputs)

  def prediction(self, signature: str, batch_size: int, outputs: Dict[str, np.ndarray],
                 label_names) -> None:
    """Counts a predict request's batch and, for the text signatures, its answers."""
    self.batch_size.labels(signature).observe(batch_size)
    self.abstracts.labels(signature).inc(batch_size)
    predicted = outputs.get(features.PREDICTED_KEY)
    if predicted is not None:
      for index in np.flatnonzero(predicted.sum(axis=0)):
        self.suggested_labels.labels(label_names[index]).inc(int(predicted[:, index].sum()))
    for warning in outputs.get(features.INPUT_WARNING_KEY, ()):
      if warning:
        self.input_warnings.labels(warning.decode('utf-8')).inc()

  def exposition(self) -> bytes:
    return prometheus_client.generate_latest(self.registry)


CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST
