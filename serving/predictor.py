"""Predictions from a pushed model, for the command line and the prediction server."""

import dataclasses
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from components import features
from components import paths


# What each input warning means, for people (the portal words them the same way).
WARNING_TEXTS = {
    features.UNSUPPORTED_SCRIPT: 'the text is mostly in a script written without spaces '
                                 '(Chinese, Japanese, Korean): not a language the model was '
                                 'trained on',
    features.TOO_SHORT: 'the text is too short to judge: give the whole abstract',
    features.UNFAMILIAR: 'the model knows too few of its words: it may not be a '
                         'computer-science abstract, or not in English',
}


@dataclasses.dataclass(frozen=True)
class Prediction:
  labels: List[str]  # Labels whose probability reaches their threshold, most likely first.
  top_k: List[Tuple[str, float]]  # The k most probable labels, whatever their threshold.
  probabilities: Dict[str, float]  # Every label's probability.
  # Why the text is too little to go on (features.INPUT_WARNING_KEY; then no `labels`),
  # or ''.
  warning: str = ''


def resolve_model_dir(path: str) -> str:
  """A SavedModel directory itself, or the newest numbered version under a serving root."""
  if tf.io.gfile.exists(os.path.join(path, 'saved_model.pb')):
    return path
  versions = paths.versions(path)
  if not versions:
    raise FileNotFoundError(f'no SavedModel in {path!r} nor in a numbered version under it '
                            '(run the pipeline first: make run)')
  return paths.version_dir(path, versions[-1])


class Predictor:
  """Wraps the model's signatures; one model call per batch of abstracts."""

  def __init__(self, model_path: str):
    self.model_dir = resolve_model_dir(model_path)
    self._model = tf.saved_model.load(self.model_dir)
    # {signature: {input: TensorSpec}}, read once: requests are checked against it.
    self.input_specs = {name: signature.structured_input_signature[1]
                        for name, signature in self._model.signatures.items()}
    vocabulary = self._model.signatures[features.LABELS_SIGNATURE]()
    self.labels = [name.decode('utf-8') for name in vocabulary['labels'].numpy()]
    self.thresholds = vocabulary['thresholds'].numpy().tolist()

  @property
  def signatures(self):
    """{name: concrete function} of every exported signature."""
    return self._model.signatures

  def run(self, signature_name: str, inputs: Dict[str, list]) -> Dict[str, np.ndarray]:
    """A signature's outputs for one batch of inputs (lists of str, bytes or numbers)."""
    specs = self.input_specs[signature_name]
    outputs = self._model.signatures[signature_name](
        **{name: tf.constant(values, specs[name].dtype) for name, values in inputs.items()})
    return {name: tensor.numpy() for name, tensor in outputs.items()}

  def outputs(self, abstracts: Sequence[str], titles: Sequence[str],
              signature_name: str = features.SERVING_SIGNATURE) -> Dict[str, np.ndarray]:
    """A text signature's outputs for a batch, in one model call."""
    if len(titles) != len(abstracts):
      raise ValueError(f'{len(abstracts)} abstracts but {len(titles)} titles')
    return self.run(signature_name, {features.ABSTRACT_KEY: list(abstracts),
                                     features.TITLE_KEY: list(titles)})

  def predict(self, abstracts: Sequence[str],
              titles: Optional[Sequence[str]] = None) -> List[Prediction]:
    if titles is None:
      titles = [''] * len(abstracts)
    if not abstracts:
      return []
    outputs = self.outputs(abstracts, titles)
    probabilities = outputs[features.PROBABILITIES_KEY]
    predicted = outputs[features.PREDICTED_KEY]
    top_labels = outputs[features.TOP_K_LABELS_KEY]
    top_probabilities = outputs[features.TOP_K_PROBABILITIES_KEY]
    warnings = outputs[features.INPUT_WARNING_KEY]
    predictions = []
    for row in range(len(abstracts)):
      chosen = sorted((i for i in range(len(self.labels)) if predicted[row, i]),
                      key=lambda i: -probabilities[row, i])
      predictions.append(Prediction(
          labels=[self.labels[i] for i in chosen],
          top_k=[(name.decode('utf-8'), float(p))
                 for name, p in zip(top_labels[row], top_probabilities[row])],
          probabilities={name: float(p) for name, p in zip(self.labels, probabilities[row])},
          warning=warnings[row].decode('utf-8')))
    return predictions
