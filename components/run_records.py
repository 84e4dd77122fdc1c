"""The JSON records a run leaves for later steps and for people: their schemas.

ExampleGen writes a `DataReport` (what was read, dropped and kept, and the counts the
drift check compares); the Trainer writes a `TrainingRecord` (its history, best
epoch, thresholds) beside its curves. Writers build the record and `write` it into
their artifact's directory; readers `read` it back and use its attributes. A field
is thus named once, here, and a file that lacks a field, has one the schema does not
know, or holds a value of the wrong type fails with a `RecordError` naming the file
and the fields.
"""

import json
import os
from typing import ClassVar, Dict, List, Type, TypeVar

import pydantic
from tfx.dsl.io import fileio

_Record = TypeVar('_Record', bound='Record')


class RecordError(ValueError):
  """A record file does not match its schema."""


class _Strict(pydantic.BaseModel):
  """Unknown fields are an error, not silently dropped."""
  model_config = pydantic.ConfigDict(extra='forbid')


class Record(_Strict):
  """A record stored as `FILE_NAME` in its artifact's directory."""
  FILE_NAME: ClassVar[str]

  @classmethod
  def path(cls, directory: str) -> str:
    return os.path.join(directory, cls.FILE_NAME)

  def write(self, directory: str) -> str:
    """Writes the record into `directory` (any file system TFX reads); returns its path."""
    path = self.path(directory)
    fileio.makedirs(directory)
    with fileio.open(path, 'w') as f:
      f.write(json.dumps(self.model_dump(), indent=2))
    return path

  @classmethod
  def read(cls: Type[_Record], directory: str) -> _Record:
    """The record in `directory`; a RecordError when the file does not match the schema."""
    path = cls.path(directory)
    with fileio.open(path) as f:
      values = json.load(f)
    return cls.parse(values, path)

  @classmethod
  def parse(cls: Type[_Record], values: object, source: str) -> _Record:
    """The record from decoded JSON; `source` names it in errors."""
    try:
      return cls.model_validate(values)
    except pydantic.ValidationError as error:
      raise RecordError(f'{source} is not a valid {cls.__name__}: ' +
                        '; '.join(_describe(e) for e in error.errors())) from None


def _describe(error: Dict) -> str:
  field = '.'.join(str(part) for part in error['loc']) or '(the whole record)'
  if error['type'] == 'missing':
    return f'missing field {field!r}'
  if error['type'] == 'extra_forbidden':
    return f'unknown field {field!r}'
  return f'field {field!r}: {error["msg"]}'


# ---------------------------------------------------------------- ExampleGen


class DroppedRecord(_Strict):
  """Where to find a dropped record and what is wrong with it."""
  file: str
  record: int  # 1-based data record of the file (the header is not one).
  detail: str


class SplitWords(_Strict):
  """A split's word counts against train's most frequent words."""
  words: int  # All words of the split's titles and abstracts.
  top_train_words: List[int]  # Aligned with `Vocabulary.top_train_words`.
  other_words: int  # Words not among train's most frequent.
  words_not_in_train: int


class Vocabulary(_Strict):
  top_train_words: List[str]  # Most frequent first.
  splits: Dict[str, SplitWords]


class DataReport(Record):
  """Every row read is either kept in a split or dropped under a reason."""
  FILE_NAME: ClassVar[str] = 'data_report.json'

  input_pattern: str
  input_files: List[str]
  # Which spans fed each split (empty for one data set split at random).
  spans: Dict[str, List[str]]
  rows_read: int
  rows_dropped: Dict[str, int]  # Reason -> rows; every reason, 0 included.
  dropped_examples: Dict[str, List[DroppedRecord]]  # The first few of each reason.
  rows_kept: int
  split_sizes: Dict[str, int]
  label_combinations_kept: int
  # Papers per abstract length: bin i holds i * abstract_words_bin words and more
  # (the last bin is open).
  abstract_words_bin: int
  abstract_words: Dict[str, List[int]]
  vocabulary: Vocabulary
  label_counts: Dict[str, Dict[str, int]]  # Split -> label -> papers, most first.


# ---------------------------------------------------------------- Trainer

# Training curves the Trainer draws (train against validation), one PNG each.
CURVES = ('loss', 'binary_accuracy', 'micro_f1')


def curve_path(directory: str, metric: str) -> str:
  """Where the Trainer's curve of `metric` is in its model_run directory."""
  return os.path.join(directory, f'{metric}.png')


class MemberTraining(_Strict):
  """How one model of the ensemble trained."""
  seed: int
  # Keras' per-epoch logs: the metrics, their `val_` twins and `train_seconds`.
  history: Dict[str, List[float]]
  epochs_run: int
  best_epoch: int  # 1-based; its weights are the model's.

  @property
  def best_val_micro_f1(self) -> float:
    return max(self.history.get('val_micro_f1') or [0.0])


class TrainingRecord(Record):
  """What the Trainer fitted and tuned, for the run summary, the report and benchmarks."""
  FILE_NAME: ClassVar[str] = 'training_record.json'

  members: List[MemberTraining]  # One per model averaged; the curves are the first's.
  vocabulary_size: int  # N-gram ids, the out-of-vocabulary one included.
  num_labels: int
  parameters: int
  positive_weights: Dict[str, float]  # Label -> weight of its positives in the loss.
  recency_weights: Dict[str, float]  # Span -> weight of its training papers.
  label_prior_shift: Dict[str, float]  # Label -> shift of its output logit.
  threshold: float  # The global decision threshold.
  label_thresholds: Dict[str, float]  # In the model's label order.
  # On eval, in-sample for the thresholds: the Evaluator's test metrics are the
  # honest ones.
  eval_metrics: Dict[str, float]
