"""Serving signatures of the exported SavedModel.

- `serving_default`: raw abstract (and title) strings -> every label's probability
  and name, which labels reach their threshold, and the top-k label names. The
  Transform graph is inside, so serving applies exactly the training-time
  vectorization.
- `serve_examples`: serialized tf.Examples -> probabilities and decision scores, for
  TFMA; `transform_features` gives TFMA the multi-hot labels and slicing columns.
- `label_vocabulary`: label names and their decision thresholds, for clients.
"""

from typing import Dict, Sequence

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras

from components import evaluation
from components import features
from components import labels as labels_lib

_EPSILON = 1e-7


def decision_scores(probabilities: tf.Tensor, thresholds: tf.Tensor) -> tf.Tensor:
  """Shifts each label's log-odds so that 0.5 falls exactly on its threshold.

  TFMA's threshold metrics (precision, recall, F1 at 0.5) then measure the
  decisions the model really makes with its tuned thresholds.
  """
  def log_odds(p):
    p = tf.clip_by_value(p, _EPSILON, 1 - _EPSILON)
    return tf.math.log(p) - tf.math.log1p(-p)

  return tf.sigmoid(log_odds(probabilities) - log_odds(thresholds))


def save(model: tf_keras.Model, tf_transform_output: tft.TFTransformOutput,
         label_names: Sequence[str], thresholds: Sequence[float], top_k: int,
         export_dir: str) -> None:
  """Saves `model` with the Transform graph and the signatures above."""
  # Tracked as attributes so that their resources (vocabulary tables) are saved.
  model.tft_layer = tf_transform_output.transform_features_layer()
  model.label_names = tf.Variable(list(label_names), trainable=False, name='label_names')
  model.thresholds = tf.Variable(list(thresholds), dtype=tf.float32, trainable=False,
                                 name='thresholds')
  top_k = min(top_k, len(label_names))
  example_spec = tf_transform_output.raw_feature_spec()
  # The text is the model's input; labels and span are not.
  input_spec = {k: example_spec[k] for k in (features.ABSTRACT_KEY, features.TITLE_KEY)}

  def predict(raw_features: Dict[str, tf.Tensor]) -> tf.Tensor:
    return model(model.tft_layer(raw_features))

  # Graph code throughout, so autograph has nothing to rewrite: spared, it does not
  # transpile tf.Transform's layer on every save (see model.ConvertlessModel).
  @tf.function(autograph=False, input_signature=[
      tf.TensorSpec([None], tf.string, name=features.ABSTRACT_KEY),
      tf.TensorSpec([None], tf.string, name=features.TITLE_KEY),
  ])
  def serve_text(abstract, title):
    probabilities = predict({features.ABSTRACT_KEY: abstract, features.TITLE_KEY: title})
    top = tf.math.top_k(probabilities, k=top_k)
    return {
        features.PROBABILITIES_KEY: probabilities,
        features.PREDICTED_KEY: tf.cast(probabilities >= model.thresholds, tf.int32),
        # Per row, so that TF Serving's row format pairs every probability with its name.
        features.LABEL_NAMES_KEY: tf.broadcast_to(model.label_names, tf.shape(probabilities)),
        features.TOP_K_LABELS_KEY: tf.gather(model.label_names, top.indices),
        features.TOP_K_PROBABILITIES_KEY: top.values,
    }

  @tf.function(autograph=False,
               input_signature=[tf.TensorSpec([None], tf.string, name='examples')])
  def serve_examples(serialized):
    probabilities = predict(tf.io.parse_example(serialized, input_spec))
    return {
        features.PROBABILITIES_KEY: probabilities,
        features.DECISION_SCORES_KEY: decision_scores(probabilities, model.thresholds),
    }

  @tf.function(autograph=False,
               input_signature=[tf.TensorSpec([None], tf.string, name='examples')])
  def transform_features(serialized):
    raw = tf.io.parse_example(serialized, example_spec)
    transformed = model.tft_layer(raw)
    # The label and the slicing columns only: signature outputs must be dense, and
    # the n-gram features are sparse.
    return {
        features.MULTI_HOT_LABELS_KEY: labels_lib.multi_hot(
            transformed[features.LABEL_IDS_KEY], len(label_names)),
        **evaluation.slice_features(raw),
    }

  @tf.function(autograph=False, input_signature=[])
  def label_vocabulary():
    return {'labels': tf.identity(model.label_names),
            'thresholds': tf.identity(model.thresholds)}

  # Serving needs no optimizer state (for the table alone, an accumulator as large).
  model.save(export_dir, save_format='tf', include_optimizer=False, signatures={
      features.SERVING_SIGNATURE: serve_text,
      features.EXAMPLES_SIGNATURE: serve_examples,
      features.TRANSFORM_SIGNATURE: transform_features,
      features.LABELS_SIGNATURE: label_vocabulary,
  })
