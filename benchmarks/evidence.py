"""`make bench-evidence`: whether the evidence the portal shows is words people can read.

For every paper of a pipeline run's test split, the n-grams the `explain` signature
names behind each top-k label, as the portal shows them (positive score only), and
the share of them that are function words: the 100 most frequent unigrams of the
train split. Transform's n-gram vocabulary is learned on train and ordered by
frequency, so those are its first 100 unigrams. The signature itself leaves out the
most frequent unigrams (`TrainerSettings.evidence_skips_common_unigrams`, 100 by
default), so with the default the share is 0 by construction and the figure checks
that rule; the second figure does not depend on it: the share of n-grams made of
English stop words alone (scikit-learn's list: "we", "of the", "can be"), the
function words proper, wherever they rank.

    python -m benchmarks.evidence --output-root outputs      # the last `make run`
"""

import sys

from pipeline import console

if __name__ == '__main__':
  # TensorFlow's notices go to a log under outputs/logs; the figures to the terminal.
  console.divert_output(verbose=False, keep_prints=True)

# pylint: disable=g-import-not-at-top,wrong-import-position
import collections
import json
import os
from typing import Any, Dict, List, Optional

import tensorflow_transform as tft
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
from tfx.types import standard_component_specs as specs
from tfx.utils import path_utils

from components import export
from components import features
from components.example_gen import executor as example_gen_executor
from pipeline import definition
from pipeline.config import PipelineConfig
from serving.predictor import Predictor

FUNCTION_WORDS = 100
_BATCH = 256
_SHOWN = 10  # The most frequent evidence n-grams listed.


def shown_evidence(outputs: Dict[str, Any]) -> List[List[str]]:
  """Per paper of an `explain` batch, the evidence n-grams the portal shows."""
  return [[ngram.decode('utf-8') for label_ngrams, label_scores in zip(ngrams, scores)
           for ngram, score in zip(label_ngrams, label_scores) if ngram and score > 0]
          for ngrams, scores in zip(outputs[features.EVIDENCE_NGRAMS_KEY],
                                    outputs[features.EVIDENCE_SCORES_KEY])]


def measure(summary: Dict[str, Any]) -> Dict[str, Any]:
  """The function-word share of the evidence for a run's test papers, from its summary."""
  artifacts = summary['artifacts']
  model_dir = path_utils.serving_model_path(artifacts[definition.TRAINER][specs.MODEL_KEY])
  vocabulary = [ngram.decode('utf-8') for ngram in tft.TFTransformOutput(
      artifacts[definition.TRANSFORM][specs.TRANSFORM_GRAPH_KEY]).vocabulary_by_name(
          features.NGRAM_VOCABULARY)]
  common = set(export.most_frequent_unigrams(vocabulary, FUNCTION_WORDS))
  test = example_gen_executor.read_papers(
      artifacts[definition.EXAMPLE_GEN][example_gen_executor.EXAMPLES_KEY], features.TEST_SPLIT)
  predictor = Predictor(model_dir)
  evidence: collections.Counter = collections.Counter()
  warnings: collections.Counter = collections.Counter()
  for start in range(0, len(test), _BATCH):
    batch = test[start:start + _BATCH]
    outputs = predictor.outputs([p.abstract for p in batch], [p.title for p in batch],
                                features.EXPLAIN_SIGNATURE)
    for ngrams in shown_evidence(outputs):
      evidence.update(ngrams)
    warnings.update(w.decode('utf-8') for w in outputs[features.INPUT_WARNING_KEY] if w)
  shown = sum(evidence.values())
  from_common = sum(n for ngram, n in evidence.items() if ngram in common)
  stop_word_ngrams = collections.Counter(
      {ngram: n for ngram, n in evidence.items()
       if all(word in ENGLISH_STOP_WORDS for word in ngram.split())})
  stop_words = sum(stop_word_ngrams.values())
  return {
      'model': model_dir,
      'test_papers': len(test),
      'input_warnings': dict(warnings),
      'evidence_shown': shown,
      'function_word_evidence': from_common,
      'function_word_share': from_common / shown if shown else 0.0,
      'stop_word_evidence': stop_words,
      'stop_word_share': stop_words / shown if shown else 0.0,
      'most_shown': evidence.most_common(_SHOWN),
      'most_shown_function_words': collections.Counter(
          {ngram: n for ngram, n in evidence.items() if ngram in common}).most_common(_SHOWN),
      'most_shown_stop_words': stop_word_ngrams.most_common(_SHOWN),
  }


def main(argv: Optional[List[str]] = None) -> int:
  parser = console.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--output-root', default=PipelineConfig().output_root,
                      help='the output root of a pipeline run (its run_summary.json)')
  parser.add_argument('--output', help='also write the figures there as JSON')
  args = parser.parse_args(argv)
  with open(os.path.join(args.output_root, 'run_summary.json'), encoding='utf-8') as f:
    result = measure(json.load(f))
  print(f'model: {result["model"]}')
  print(f'test papers: {result["test_papers"]:,} (input warnings: '
        f'{result["input_warnings"] or "none"})')
  print(f'evidence n-grams shown: {result["evidence_shown"]:,}, of them function words '
        f'(the {FUNCTION_WORDS} most frequent unigrams of train): '
        f'{result["function_word_evidence"]:,} = {result["function_word_share"]:.1%}; '
        f'made of English stop words alone: {result["stop_word_evidence"]:,} = '
        f'{result["stop_word_share"]:.1%}')
  for title, key in (('most shown', 'most_shown'),
                     ('function words most shown', 'most_shown_function_words'),
                     ('stop words most shown', 'most_shown_stop_words')):
    print(f'{title}: ' + ', '.join(f'"{ngram}" {n}' for ngram, n in result[key]))
  if args.output:
    with open(args.output, 'w', encoding='utf-8') as f:
      json.dump(result, f, indent=2)
  return 0


if __name__ == '__main__':
  sys.exit(console.run_tool(main, PipelineConfig().output_root, 'bench-evidence',
                            show_log=False))
