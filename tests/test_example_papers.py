"""The one decoder of ExampleGen's tf.Examples into papers, the inverse of `to_example`."""

import os

import tensorflow as tf

from components import features
from components.example_gen import executor
from components.example_gen import records

PAPER = records.Paper(('papers.csv', 0), 'Vision transformers, revisited',
                      'We revisit ViTs — with ümlauts and emoji 🚀.', ('cs.CV', 'cs.LG'))


def test_a_paper_decodes_as_it_was_encoded_with_and_without_a_span():
  assert executor.from_example(executor.to_example(PAPER, span=675)) == executor.ExamplePaper(
      PAPER.title, PAPER.abstract, PAPER.labels, 675)
  assert executor.from_example(executor.to_example(PAPER)).span is None


def test_read_papers_decodes_every_example_of_a_split_in_file_order(tmp_path):
  split_dir = tmp_path / f'Split-{features.TEST_SPLIT}'
  os.makedirs(split_dir)
  papers = [PAPER._replace(title=f'{PAPER.title} {i}') for i in range(3)]
  with tf.io.TFRecordWriter(str(split_dir / 'data_tfrecord-00000-of-00001')) as writer:
    for paper in papers:
      writer.write(executor.to_example(paper).SerializeToString())
  assert [p.title for p in executor.read_papers(str(tmp_path), features.TEST_SPLIT)] == [
      p.title for p in papers]
