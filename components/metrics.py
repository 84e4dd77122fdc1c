"""Multi-label quality metrics, decision-threshold tuning and bootstrap intervals, in NumPy.

Binary accuracy (the reference's headline) is near-meaningless here: predicting no
label at all scores ~98.6%. These functions give the figures that matter (micro and
macro F1, precision@k) for threshold tuning in the Trainer, the run summary and the
benchmarks. The Evaluator computes the same quantities with TFMA.
"""

import functools
from typing import Dict, Sequence, Tuple, Union

import numpy as np

# Candidate global thresholds searched on the eval split.
_THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray,
                           thresholds: np.ndarray) -> Dict[str, float]:
  """Metrics of [examples, labels] multi-hot `labels` against probabilities."""
  labels = np.asarray(labels) >= 0.5
  predicted = np.asarray(probabilities) >= np.asarray(thresholds)
  true_positives, predicted_positives, actual_positives = _label_counts(labels, predicted)
  micro_precision = _ratio(true_positives.sum(), predicted_positives.sum())
  micro_recall = _ratio(true_positives.sum(), actual_positives.sum())
  per_label_f1 = np.array([
      _f1(*counts) for counts in zip(true_positives, predicted_positives, actual_positives)
  ])
  present = actual_positives > 0  # Macro-F1 over the labels the data contains.
  metrics = {
      'binary_accuracy': float((labels == predicted).mean()),
      'micro_precision': micro_precision,
      'micro_recall': micro_recall,
      'micro_f1': _f1(true_positives.sum(), predicted_positives.sum(),
                      actual_positives.sum()),
      'macro_f1': float(per_label_f1[present].mean()) if present.any() else 0.0,
      'subset_accuracy': float((labels == predicted).all(axis=1).mean()),
  }
  for k in (1, 3):
    metrics[f'precision_at_{k}'] = precision_at_k(labels, probabilities, k)
  return metrics


def precision_at_k(labels: np.ndarray, probabilities: np.ndarray, k: int) -> float:
  """Share of each example's k most probable labels that are true, averaged."""
  k = min(k, probabilities.shape[1])
  top = np.argsort(-probabilities, axis=1, kind='stable')[:, :k]
  hits = np.take_along_axis(np.asarray(labels) >= 0.5, top, axis=1)
  return float(hits.mean())


def label_prior_baseline(train_shares: np.ndarray, eval_counts: np.ndarray,
                         eval_size: int) -> Tuple[np.ndarray, float]:
  """The simplest model: every paper gets each label's share of train as its
  probability, so all papers get the same labels. Returns (probabilities of one
  paper, threshold): the threshold admits the m most frequent labels, m chosen for the
  best micro-F1 on eval, computed from eval's label counts (predicting a fixed set S
  for n papers: TP = sum of S's counts, predicted = |S| n)."""
  order = np.argsort(-np.asarray(train_shares), kind='stable')
  counts = np.asarray(eval_counts, np.float64)[order]
  actual = counts.sum()
  best_m, best_f1 = 0, 0.0
  for m in range(1, len(order) + 1):
    f1 = _ratio(2 * counts[:m].sum(), m * eval_size + actual)
    if f1 > best_f1:
      best_m, best_f1 = m, f1
  shares = np.asarray(train_shares, np.float32)
  threshold = float(shares[order[best_m - 1]]) if best_m else float(shares.max()) + 1.0
  return shares, threshold


def tune_global_threshold(labels: np.ndarray, probabilities: np.ndarray) -> float:
  """The threshold, shared by all labels, with the best micro-F1."""
  labels = np.asarray(labels) >= 0.5
  scores = [
      _f1(*(counts.sum() for counts in _label_counts(labels, probabilities >= threshold)))
      for threshold in _THRESHOLD_GRID
  ]
  return float(_THRESHOLD_GRID[int(np.argmax(scores))])


# What `paired_bootstrap` puts an interval on.
BOOTSTRAPPED_METRICS = ('micro_f1', 'macro_f1', 'precision_at_1')

Interval = Dict[str, float]  # estimate, low, high
Model = Tuple[np.ndarray, np.ndarray]  # (probabilities, thresholds) of one trained model


def paired_bootstrap(labels: np.ndarray, model_a: Model, model_b: Model, resamples: int = 1000,
                     confidence: float = 0.95, seed: int = 0) -> Dict[str, Dict[str, Interval]]:
  """Bootstrap intervals of two models' metrics on the same examples, and of A - B.

  Each model is (probabilities, thresholds). Both are scored on the same resamples of
  the examples (a paired bootstrap), so the interval of the difference leaves out the
  luck of the draw that both share: it says whether A beats B on papers like these,
  not only on these. Returns {'a' | 'b' | 'a_minus_b': {metric: interval}}.
  """
  return paired_bootstrap_mean([(labels, model_a, model_b)], resamples, confidence, seed)


def paired_bootstrap_mean(groups: Sequence[Tuple[np.ndarray, Union[Model, Sequence[Model]],
                                                 Union[Model, Sequence[Model]]]],
                          resamples: int = 1000, confidence: float = 0.95,
                          seed: int = 0) -> Dict[str, Dict[str, Interval]]:
  """`paired_bootstrap` of the mean of a metric over groups of examples (the months of
  a backtest): each (labels, model A, model B) group is resampled on its own, its
  metrics computed, and the groups' figures averaged, resample by resample.

  A model may be a list of trainings of one recipe (seeds): its figure is then their
  mean, and each resample also draws the trainings with replacement, so the
  intervals hold the training's noise as well as the papers'.
  """
  rng = np.random.default_rng(seed)
  totals = {'a': {}, 'b': {}}
  for labels, model_a, model_b in groups:
    labels = np.asarray(labels) >= 0.5
    weights = _resample_weights(rng, len(labels), resamples)
    for side, model in (('a', model_a), ('b', model_b)):
      runs = [model] if isinstance(model, tuple) else list(model)
      estimates = [_weighted_metrics(labels, *run, np.ones((1, len(labels)))) for run in runs]
      samples = [_weighted_metrics(labels, *run, weights) for run in runs]
      # [resamples, runs]: which trainings each resample draws; none to draw from one.
      drawn = (rng.integers(len(runs), size=(resamples, len(runs))) if len(runs) > 1
               else np.zeros((resamples, 1), int))
      for name in BOOTSTRAPPED_METRICS:
        estimate = np.mean([e[name][0] for e in estimates])
        sample = np.stack([s[name] for s in samples])[drawn, np.arange(resamples)[:, None]]
        previous = totals[side].get(name, (0.0, 0.0))
        totals[side][name] = (previous[0] + estimate / len(groups),
                              previous[1] + sample.mean(axis=1) / len(groups))
  a, b = totals['a'], totals['b']
  interval = functools.partial(_interval, confidence=confidence)
  return {
      'a': {name: interval(*a[name]) for name in BOOTSTRAPPED_METRICS},
      'b': {name: interval(*b[name]) for name in BOOTSTRAPPED_METRICS},
      'a_minus_b': {name: interval(a[name][0] - b[name][0], a[name][1] - b[name][1])
                    for name in BOOTSTRAPPED_METRICS},
  }


# What `paired_lift` puts an interval on: the figures a model must beat a baseline on.
LIFT_METRICS = ('micro_f1', 'precision_at_1')


def example_counts(labels: np.ndarray, predicted: np.ndarray,
                   top_label: np.ndarray) -> np.ndarray:
  """Per example [true positives, predicted labels, whether the top-ranked label is
  true]: what micro-F1 and precision@1 add up. `top_label` is each example's index
  of its most probable label."""
  labels, predicted = np.asarray(labels) >= 0.5, np.asarray(predicted, bool)
  return np.stack([(labels & predicted).sum(axis=1), predicted.sum(axis=1),
                   labels[np.arange(len(labels)), top_label]], axis=1).astype(np.float64)


def paired_lift(actual: np.ndarray, model: np.ndarray, baseline: np.ndarray,
                resamples: int = 1000, confidence: float = 0.95,
                seed: int = 0) -> Dict[str, Interval]:
  """`LIFT_METRICS` of a model minus a baseline's on the same examples, with
  paired-bootstrap intervals ({metric: interval}), from per-example
  counts: `actual` [examples] true labels, `model` and `baseline` [examples, 3] from
  `example_counts`. Resampled as `paired_bootstrap` does; the examples' order sets
  which resample draws which example, so callers that gather them in no fixed order
  sort them first."""
  actual = np.asarray(actual, np.float64)
  weights = np.concatenate([np.ones((1, len(actual))), _resample_weights(
      np.random.default_rng(seed), len(actual), resamples)])

  def figures(counts):
    true_positives, predicted, top_hits = (weights @ np.asarray(counts, np.float64)).T
    with np.errstate(divide='ignore', invalid='ignore'):
      micro = np.nan_to_num(2 * true_positives / (predicted + weights @ actual))
    return {'micro_f1': micro, 'precision_at_1': top_hits / weights.sum(axis=1)}

  model, baseline = figures(model), figures(baseline)
  return {name: _interval(model[name][0] - baseline[name][0],
                          model[name][1:] - baseline[name][1:], confidence)
          for name in LIFT_METRICS}


def _resample_weights(rng: np.random.Generator, examples: int, resamples: int) -> np.ndarray:
  """[resamples, examples]: how often each resample draws each example."""
  return rng.multinomial(examples, np.full(examples, 1.0 / examples), size=resamples)


def _interval(estimate: float, samples: np.ndarray, confidence: float) -> Interval:
  """The resamples' percentile interval, moved by the resamples' bias (their mean less
  the estimate), so it is centred where the estimate is.

  Plain percentiles assume a resampled figure is unbiased. Macro-F1 is not: a
  resample misses some of a month's rare labels, nearly all of them never predicted
  (F1 0), so its mean over the labels present rises; the plain interval of one
  model's backtest macro-F1 lay above its own estimate (0.088 [0.090, 0.102]). For
  micro-F1 and precision@1, and for differences of two models on the same resamples,
  the bias is next to nothing and the interval is the plain one.
  """
  tail = 50 * (1 - confidence)
  bias = np.mean(samples) - estimate
  low, high = np.percentile(samples, [tail, 100 - tail]) - bias
  return {'estimate': float(estimate), 'low': float(low), 'high': float(high)}


def _weighted_metrics(labels: np.ndarray, probabilities: np.ndarray, thresholds: np.ndarray,
                      weights: np.ndarray) -> Dict[str, np.ndarray]:
  """`BOOTSTRAPPED_METRICS` with example i counted weights[r, i] times, per row r.

  The counts are float64 matrix products: exact for counts below 2**53, and BLAS's,
  where numpy multiplies integer or boolean matrices in a plain loop, which made the
  report's bootstrap most of its time on full-size test months.
  """
  weights = np.asarray(weights, np.float64)
  predicted = np.asarray(probabilities) >= np.asarray(thresholds)
  true_positives = weights @ (labels & predicted).astype(np.float64)  # [resamples, labels]
  predicted_positives = weights @ predicted.astype(np.float64)
  actual_positives = weights @ labels.astype(np.float64)
  with np.errstate(divide='ignore', invalid='ignore'):
    micro = np.nan_to_num(2 * true_positives.sum(1) /
                          (predicted_positives.sum(1) + actual_positives.sum(1)))
    per_label = np.nan_to_num(2 * true_positives / (predicted_positives + actual_positives))
    present = actual_positives > 0  # As classification_metrics: labels the data contains.
    macro = np.nan_to_num((per_label * present).sum(1) / present.sum(1))
  top_hit = labels[np.arange(len(labels)), np.argmax(probabilities, axis=1)]
  return {'micro_f1': micro, 'macro_f1': macro,
          'precision_at_1': weights @ top_hit / weights.sum(1)}


def _label_counts(labels: np.ndarray, predicted: np.ndarray):
  """Per label: true positives, predicted positives, actual positives."""
  return (labels & predicted).sum(axis=0), predicted.sum(axis=0), labels.sum(axis=0)


def _f1(true_positives, predicted_positives, actual_positives) -> float:
  return _ratio(2 * true_positives, predicted_positives + actual_positives)


def _ratio(numerator, denominator) -> float:
  return float(numerator / denominator) if denominator else 0.0


def tune_label_thresholds(labels: np.ndarray, probabilities: np.ndarray,
                          fallback: float, min_positives: int = 3,
                          shrinkage: float = 0.0) -> np.ndarray:
  """Per label, the threshold with the best F1 on this data, shrunk toward `fallback`.

  A label with fewer than `min_positives` positives here keeps `fallback`: a
  threshold fitted to one or two examples would be noise. The others get
  (n * own + shrinkage * fallback) / (n + shrinkage) for n positives: a label's own
  threshold counts as much as its evidence.
  """
  labels = np.asarray(labels) >= 0.5
  positives = labels.sum(axis=0)
  thresholds = np.full(labels.shape[1], fallback, np.float32)
  for label in np.flatnonzero(positives >= min_positives):
    truth = labels[:, label]
    scores = [
        _f1((truth & predicted).sum(), predicted.sum(), truth.sum())
        for predicted in (probabilities[:, label] >= t for t in _THRESHOLD_GRID)
    ]
    own = _THRESHOLD_GRID[int(np.argmax(scores))]
    thresholds[label] = (positives[label] * own + shrinkage * fallback) / (
        positives[label] + shrinkage)
  return thresholds
