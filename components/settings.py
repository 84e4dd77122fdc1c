"""Typed settings of the Transform and Trainer steps.

The pipeline config nests these dataclasses; the components receive them as
`custom_config` dicts (what TFX can serialize) and read them back with
`from_custom_config`, so each setting and its default is written once.
"""

import dataclasses
from typing import Any, Dict, Mapping, Optional, Tuple, Type, TypeVar

_Settings = TypeVar('_Settings')


@dataclasses.dataclass(frozen=True)
class TransformSettings:
  max_vocabulary_size: int = 200_000  # Most frequent unigrams + bigrams kept.
  min_ngram_count: int = 2  # N-grams seen fewer times in train are out of vocabulary.
  min_label_count: int = 1  # Labels seen fewer times in train are not predicted.


@dataclasses.dataclass(frozen=True)
class TrainerSettings:
  max_epochs: int = 10  # Early stopping on validation loss usually ends sooner.
  early_stopping_patience: int = 2
  batch_size: int = 128
  learning_rate: float = 1e-3
  hidden_units: Tuple[int, ...] = (512, 256)
  top_k: int = 3  # Labels the serving signature names per abstract.
  seed: int = 42


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
