"""Typed settings of the Transform and Trainer steps.

The pipeline config nests these dataclasses; the components receive them as
`custom_config` dicts (what TFX can serialize) and read them back with
`from_custom_config`, so each setting and its default is written once.
"""

import dataclasses
from typing import Any, Dict, Mapping, Optional, Tuple, Type, TypeVar

_Settings = TypeVar('_Settings')


def check(settings: Any, name: str, valid: bool, expected: str) -> None:
  """Out-of-range settings fail when the pipeline is configured, naming the field."""
  if not valid:
    raise ValueError(f'{type(settings).__name__}.{name} must be {expected}, '
                     f'got {getattr(settings, name)!r}')


@dataclasses.dataclass(frozen=True)
class TransformSettings:
  # The most frequent unigrams + bigrams of train (counted exactly).
  max_vocabulary_size: int = 200_000
  min_label_count: int = 1  # Labels seen fewer times in train are not predicted.

  def __post_init__(self):
    check(self, 'max_vocabulary_size', self.max_vocabulary_size >= 1, 'at least 1')
    check(self, 'min_label_count', self.min_label_count >= 1, 'at least 1')


@dataclasses.dataclass(frozen=True)
class TrainerSettings:
  # A cap: early stopping usually ends training sooner (docs/quality.md has the
  # epochs the backtest's models ran).
  max_epochs: int = 20
  early_stopping_patience: int = 3
  # Early stopping judges epochs from this one on (or from the last, if fewer run):
  # in the first epochs eval micro-F1 at 0.5 can stall for a few epochs while the
  # model is still far from trained, and stopping there costs far more than a few
  # epochs do (docs/quality.md: the backtest month it happened to).
  min_epochs: int = 10
  # What early stopping watches on eval: 'val_micro_f1' (at 0.5), or 'val_loss'. With
  # a temporal split eval is a newer month than train, whose loss rises and falls
  # while micro-F1 still improves: watching the loss stops training too early
  # (docs/quality.md).
  early_stopping_monitor: str = 'val_micro_f1'
  # The largest batch. Large batches suit large data: a step's cost is mostly the
  # table rows it touches, and those grow far slower than the batch (abstracts share
  # most of their n-grams). On small data they would leave the model a handful of
  # optimizer steps, so `train_batch_size` shrinks the batch until an epoch has
  # `min_steps_per_epoch` steps, down to `min_batch_size` (the reference's batch).
  batch_size: int = 8192
  min_steps_per_epoch: int = 8
  min_batch_size: int = 128
  learning_rate: float = 4e-3  # Adam, dense layers.
  table_learning_rate: float = 0.03  # Sparse Adagrad, the TF-IDF table.
  dropout: float = 0.3  # Between the hidden layers.
  # Share of an abstract's n-grams dropped at random in each training step, so the
  # model cannot rest on a few of them (docs/quality.md: the gain on the full data).
  ngram_dropout: float = 0.3
  # In the loss, a positive example of a label rarer in train than
  # `rare_label_frequency` weighs (rare_label_frequency / its frequency) **
  # `rare_label_weight_power`; the others weigh 1. Unweighted, the model all but
  # never predicts the rare labels: macro-F1 loses far more than micro-F1 gains.
  # Weighting every label by its odds instead costs micro-F1 (docs/quality.md).
  rare_label_frequency: float = 0.01
  rare_label_weight_power: float = 0.5
  hidden_units: Tuple[int, ...] = (512, 256)
  # Models trained from seeds seed, seed + 1, ... and averaged (their probabilities)
  # in the exported model; one threshold tuned on the average. Each costs a training
  # (~70-130 s on the full data) and its table (~400 MB) in the model; two gained
  # over one on next month's papers, more gained within the noise (docs/quality.md).
  ensemble_members: int = 2
  # A linear model of the TF-IDF vector (a logistic regression per label, trained as
  # the MLPs are, its table at `linear_table_learning_rate`) joins their average:
  # at `linear_weight` for most labels and at `linear_rare_label_weight` for the
  # labels rarer in train than `rare_label_frequency`, the MLPs sharing the rest.
  # The MLPs all but never predict the rare labels; the linear model does. In the
  # backtest, an equal third for most labels and the rare ones its alone raised
  # macro-F1 by 0.02, micro-F1 and precision@1 unchanged (docs/quality.md). It
  # trains in ~30 s on the full data. Both 0: no linear member.
  linear_weight: float = 1 / 3
  linear_rare_label_weight: float = 1.0
  linear_table_learning_rate: float = 0.03
  top_k: int = 3  # Labels the serving signature names per abstract.
  # The `explain` signature: n-grams shown per top-k label, and when it warns that the
  # answer rests on too little: title and abstract have fewer than `min_ngrams`
  # unigram and bigram occurrences ('too_short'; 40 is about 20 words, real abstracts
  # have 100 or more), or fewer than `min_known_ngram_share` of them are in the
  # vocabulary ('unfamiliar': another field's or language's words).
  evidence_ngrams: int = 5
  # The evidence never names the `evidence_skips_common_unigrams` most frequent
  # unigrams of train: words nearly every abstract has ("we", "the", "of", but also
  # "language", "model") say nothing about why this paper is in a field; bigrams
  # that hold them ("language models") still can. docs/serving.md has the effect.
  evidence_skips_common_unigrams: int = 100
  min_ngrams: int = 40
  min_known_ngram_share: float = 0.5
  # With monthly spans, the label mix of the newest labelled month (eval) replaces
  # the training window's in the output layer's biases: each label's logit moves by
  # logit(eval share) - logit(train share), the eval share smoothed toward the train
  # share with `label_prior_pseudo_count` pseudo-papers. Label shares move from month
  # to month (cs.LG's most of all); the model would otherwise keep the window's mix.
  # docs/quality.md has the backtest's gain and how little the pseudo-count matters.
  adapt_label_prior: bool = True
  label_prior_pseudo_count: float = 50.0
  # One decision threshold for all labels (best eval micro-F1), or also one per label.
  # Off: under drift, per-label thresholds tuned on the month before cost more
  # micro-F1 on the next month than they gain in macro-F1, and on a random split they
  # were even (docs/quality.md).
  per_label_thresholds: bool = False
  # With per-label thresholds: a label gets its own when the eval split has this
  # many positives of it, shrunk toward the global one as if the global one had been
  # seen on `label_threshold_shrinkage` positives; the others share the global one.
  label_threshold_min_positives: int = 5
  label_threshold_shrinkage: float = 20.0
  # With monthly spans, a training paper k months older than the newest training
  # month weighs 0.5 ** (k / recency_half_life_months) in the loss (weights scaled to
  # mean 1), so the model leans toward the current label mix; 0 weighs all alike.
  recency_half_life_months: float = 0.0
  seed: int = 42

  def __post_init__(self):
    check(self, 'max_epochs', self.max_epochs >= 1, 'at least 1')
    check(self, 'min_epochs', self.min_epochs >= 1, 'at least 1')
    check(self, 'batch_size', self.batch_size >= 1, 'at least 1')
    check(self, 'min_steps_per_epoch', self.min_steps_per_epoch >= 1, 'at least 1')
    check(self, 'min_batch_size', self.min_batch_size >= 1, 'at least 1')
    check(self, 'top_k', self.top_k >= 1, 'at least 1')
    check(self, 'ensemble_members', self.ensemble_members >= 1, 'at least 1')
    for weight in ('linear_weight', 'linear_rare_label_weight'):
      check(self, weight, 0 <= getattr(self, weight) <= 1, 'in [0, 1]')
    check(self, 'linear_table_learning_rate', self.linear_table_learning_rate > 0,
          'above 0')
    check(self, 'evidence_ngrams', self.evidence_ngrams >= 1, 'at least 1')
    check(self, 'evidence_skips_common_unigrams', self.evidence_skips_common_unigrams >= 0,
          'at least 0')
    check(self, 'min_ngrams', self.min_ngrams >= 0, 'at least 0')
    check(self, 'min_known_ngram_share', 0 <= self.min_known_ngram_share <= 1, 'in [0, 1]')
    check(self, 'early_stopping_monitor',
          self.early_stopping_monitor in ('val_loss', 'val_micro_f1'),
          "'val_loss' or 'val_micro_f1'")
    for rate in ('dropout', 'ngram_dropout'):
      check(self, rate, 0 <= getattr(self, rate) < 1, 'in [0, 1)')
    check(self, 'rare_label_frequency', 0 <= self.rare_label_frequency <= 1, 'in [0, 1]')
    check(self, 'rare_label_weight_power', self.rare_label_weight_power >= 0,
           'at least 0')
    check(self, 'recency_half_life_months', self.recency_half_life_months >= 0,
          'at least 0')
    check(self, 'label_prior_pseudo_count', self.label_prior_pseudo_count >= 0, 'at least 0')
    check(self, 'label_threshold_min_positives', self.label_threshold_min_positives >= 1,
          'at least 1')
    check(self, 'label_threshold_shrinkage', self.label_threshold_shrinkage >= 0,
          'at least 0')

  @property
  def linear_member(self) -> bool:
    return bool(self.linear_weight or self.linear_rare_label_weight)

  @property
  def trained_models(self) -> int:
    """Models one training fits, from seeds seed, seed + 1, ...: the MLPs, then the
    linear member."""
    return self.ensemble_members + self.linear_member

  def train_batch_size(self, train_examples: int) -> int:
    """The batch size for `train_examples` papers: `batch_size` where that still gives
    `min_steps_per_epoch` steps an epoch, else smaller, but not below `min_batch_size`
    (nor above `batch_size`, which a smaller configured value keeps)."""
    per_step = -(-train_examples // self.min_steps_per_epoch)  # ceil
    return min(self.batch_size, max(self.min_batch_size, per_step))


def to_custom_config(settings: Any) -> Dict[str, Any]:
  return dataclasses.asdict(settings)


def from_custom_config(cls: Type[_Settings],
                       custom_config: Optional[Mapping[str, Any]]) -> _Settings:
  """Rebuilds settings from a custom_config dict; unknown keys are an error."""
  values = dict(custom_config or {})
  names = {field.name for field in dataclasses.fields(cls)}
  unknown = sorted(set(values) - names)
  if unknown:
    raise ValueError(f'unknown {cls.__name__} setting(s): {", ".join(unknown)}')
  if 'hidden_units' in values:  # JSON turns tuples into lists.
    values['hidden_units'] = tuple(values['hidden_units'])
  return cls(**values)
