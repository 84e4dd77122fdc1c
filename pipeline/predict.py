"""Suggests arXiv subject areas for abstracts with a pushed model.

    python pipeline/predict.py "We train a transformer to ..."          # top-3 labels
    python pipeline/predict.py --input papers.csv --output predictions.jsonl

The input CSV needs a `summaries` column (the abstract); `titles` is used when present.
Each output line is one JSON object: the row number, the title, the labels above the
model's thresholds, the top-k labels, every label's probability and the input warning
('' or why the text is too little to suggest labels from: then none is suggested).
"""

import sys

from pipeline import console

if __name__ == '__main__':
  # TensorFlow's import-time notices go to a log; the predictions to the terminal.
  console.divert_output(verbose=False, keep_prints=True)

# pylint: disable=g-import-not-at-top,wrong-import-position
import csv
import gzip
import json
from typing import Iterator, List, Optional, Tuple

from components import features
from pipeline.config import PipelineConfig
from serving.predictor import WARNING_TEXTS, Predictor

_BATCH_SIZE = 256


def main(argv: Optional[List[str]] = None) -> int:
  parser = console.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('abstract', nargs='?', help='an abstract to label')
  parser.add_argument('--title', default='', help='the title that goes with the abstract')
  parser.add_argument('--model', default=PipelineConfig().serving_model_dir,
                      help='a pushed model directory, or the serving root (newest version)')
  parser.add_argument('--input', help='CSV of abstracts to label in batch')
  parser.add_argument('--output', help='JSON-lines file for --input (default: stdout)')
  args = parser.parse_args(argv)
  if (args.abstract is None) == (args.input is None):
    parser.error('give either an abstract or --input FILE')

  predictor = Predictor(args.model)
  if args.abstract is not None:
    prediction = predictor.predict([args.abstract], [args.title])[0]
    print(f'Model: {predictor.model_dir}')
    if prediction.warning:
      print(f'No suggestion: {WARNING_TEXTS[prediction.warning]}. The most probable labels:')
    for rank, (label, probability) in enumerate(prediction.top_k, start=1):
      marker = '  (above threshold)' if label in prediction.labels else ''
      print(f'{rank}. {label:<12} {probability:.3f}{marker}')
    return 0

  output = open(args.output, 'w', encoding='utf-8') if args.output else sys.stdout
  rows = 0
  try:
    for batch in _batches(read_abstracts(args.input), _BATCH_SIZE):
      numbers, titles, abstracts = zip(*batch)
      for number, title, prediction in zip(
          numbers, titles, predictor.predict(list(abstracts), list(titles))):
        output.write(json.dumps({
            'row': number,
            'title': title,
            'predicted_labels': prediction.labels,
            'top_k': [{'label': l, 'probability': p} for l, p in prediction.top_k],
            'probabilities': prediction.probabilities,
            'input_warning': prediction.warning,
        }) + '\n')
        rows += 1
  finally:
    if output is not sys.stdout:
      output.close()
  print(f'labelled {rows} abstracts' + (f' into {args.output}' if args.output else ''),
        file=sys.stderr)
  return 0


def read_abstracts(path: str) -> Iterator[Tuple[int, str, str]]:
  """(1-based data row number, title, abstract) for every row of a CSV file."""
  opener = gzip.open if path.endswith('.gz') else open
  with opener(path, 'rt', encoding='utf-8', newline='') as f:
    reader = csv.DictReader(f)
    if not reader.fieldnames or features.CSV_ABSTRACT_COLUMN not in reader.fieldnames:
      raise SystemExit(f'{path}: needs a {features.CSV_ABSTRACT_COLUMN!r} column; '
                       f'found {reader.fieldnames}')
    for number, row in enumerate(reader, start=1):
      yield (number, row.get(features.CSV_TITLE_COLUMN) or '',
             row[features.CSV_ABSTRACT_COLUMN] or '')


def _batches(items, size):
  batch = []
  for item in items:
    batch.append(item)
    if len(batch) == size:
      yield batch
      batch = []
  if batch:
    yield batch


if __name__ == '__main__':
  sys.exit(console.run_tool(main, PipelineConfig().output_root, 'predict', show_log=False))
