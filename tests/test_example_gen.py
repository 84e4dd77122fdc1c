"""ArxivExampleGen's executor on crafted CSV files: cleaning, dedupe, stratified split."""

import pytest

from components import features
from components.example_gen import executor
from components.example_gen import records
from tests.conftest import run_example_gen, write_csv


def crafted_rows():
  rows = [(f'Vision paper {i}', f'Images number {i}.', "['cs.CV']") for i in range(200)]
  # One combination, listed in either order.
  rows += [(f'Language paper {i}', f'Text number {i}.',
            "['cs.CL', 'cs.LG']" if i % 2 else "['cs.LG', 'cs.CL']") for i in range(100)]
  rows += [
      ('Robots alone', 'A combination seen once.', "['cs.RO']"),
      ('A Duplicated Title', 'The first copy.', "['cs.CV']"),
      ('a duplicated  title', 'The second copy.', "['cs.CV']"),
      ('Bad terms', 'Abstract.', 'cs.CV'),
      ('No abstract', '   ', "['cs.CV']"),
  ]
  return rows


@pytest.fixture(scope='module')
def crafted_run(tmp_path_factory):
  directory = tmp_path_factory.mktemp('crafted')
  path = write_csv(str(directory / 'papers.csv.gz'), crafted_rows())
  return run_example_gen(str(directory / 'run'), path)


def test_every_row_read_is_kept_or_dropped_with_its_reason(crafted_run):
  report, splits = crafted_run
  assert report['rows_read'] == 305
  dropped = {reason: n for reason, n in report['rows_dropped'].items() if n}
  assert dropped == {'duplicate_title': 1, 'rare_label_combination': 1,
                     'unparsable_terms': 1, 'empty_abstract': 1}
  assert report['rows_kept'] == 301 == sum(len(papers) for papers in splits.values())
  assert report['split_sizes'] == {split: len(papers) for split, papers in splits.items()}
  assert report['label_counts']['train']['cs.CV'] == sum(
      'cs.CV' in labels for _, labels in splits['train'].values())


def test_duplicate_titles_keep_the_first_row(crafted_run):
  _, splits = crafted_run
  kept = [(title, paper) for papers in splits.values() for title, paper in papers.items()
          if title.lower() == 'a duplicated title']
  assert kept == [('A Duplicated Title', ('The first copy.', ('cs.CV',)))]


def test_split_is_stratified_on_the_label_combination(crafted_run):
  _, splits = crafted_run
  for combination, size in ((('cs.CV',), 201), (('cs.CL', 'cs.LG'), 100)):
    counts = {split: sum(records.combination_key(labels) == combination
                         for _, labels in papers.values())
              for split, papers in splits.items()}
    assert sum(counts.values()) == size
    for split, fraction in zip(features.SPLITS, (0.9, 0.05, 0.05)):
      assert abs(counts[split] - fraction * size) <= 1, (combination, counts)


def test_splits_are_disjoint_and_labels_are_parsed_lists(crafted_run):
  _, splits = crafted_run
  titles = [set(papers) for papers in splits.values()]
  assert not (titles[0] & titles[1] or titles[0] & titles[2] or titles[1] & titles[2])
  every = {title: paper for papers in splits.values() for title, paper in papers.items()}
  # The listed order is kept (the primary category first).
  assert every['Language paper 1'] == ('Text number 1.', ('cs.CL', 'cs.LG'))
  assert every['Language paper 0'] == ('Text number 0.', ('cs.LG', 'cs.CL'))


def test_the_split_depends_only_on_the_seed(tmp_path, tmp_csv):
  path = tmp_csv(crafted_rows())
  membership = {}
  for name, seed in (('a', 7), ('b', 7), ('c', 8)):
    _, splits = run_example_gen(str(tmp_path / name), path, seed=seed)
    membership[name] = {split: sorted(papers) for split, papers in splits.items()}
  assert membership['a'] == membership['b']
  assert membership['a'] != membership['c']


def test_a_missing_column_stops_the_run_naming_file_and_column(tmp_path, tmp_csv):
  path = tmp_csv([('t', 'a')], header=('titles', 'summaries'))
  with pytest.raises(records.InputError, match=r'data.csv: missing required column\(s\) terms'):
    run_example_gen(str(tmp_path / 'out'), path)


def test_a_pattern_matching_nothing_stops_the_run(tmp_path):
  with pytest.raises(records.InputError, match='no input file matches'):
    run_example_gen(str(tmp_path / 'out'), str(tmp_path / 'nothing-*.csv'))


def test_too_few_rows_for_a_split_stop_the_run_with_the_reason(tmp_path, tmp_csv):
  path = tmp_csv([(f'p{i}', 'x', "['cs.CV']") for i in range(3)])
  with pytest.raises(records.InputError, match=r'split\(s\) .* are empty'):
    run_example_gen(str(tmp_path / 'out'), path)


def test_several_files_give_the_same_examples_as_one(tmp_path, crafted_run):
  rows = crafted_rows()
  # The second copy of the duplicated title goes to the first file, which is read
  # first (files sort by name), so that copy is the one kept.
  first_copy, second_copy = rows[-4], rows[-3]
  others = [row for row in rows if row not in (first_copy, second_copy)]
  first, second = others[::2] + [second_copy], others[1::2] + [first_copy]
  write_csv(str(tmp_path / 'part-0.csv'), first)
  write_csv(str(tmp_path / 'part-1.csv.gz'), second)
  report, splits = run_example_gen(str(tmp_path / 'run'), str(tmp_path / 'part-*'))
  one_file_report, one_file_splits = crafted_run
  assert report['rows_read'] == 305
  assert report['rows_dropped'] == one_file_report['rows_dropped']
  assert report['split_sizes'] == one_file_report['split_sizes']
  every = {title: paper for papers in splits.values() for title, paper in papers.items()}
  # Titles are kept with their whitespace collapsed.
  assert every['a duplicated title'] == ('The second copy.', ('cs.CV',))
  assert set(every) - {'a duplicated title'} == {
      title for papers in one_file_splits.values() for title in papers} - {
          'A Duplicated Title'}


def test_split_tables_merge_partial_tables_of_a_file():
  combine = executor._SplitTable()  # pylint: disable=protected-access
  left = combine.add_input(combine.add_input(combine.create_accumulator(), (0, 0)), (5, 2))
  right = combine.add_input(combine.create_accumulator(), (2, 1))
  table = combine.extract_output(combine.merge_accumulators([left, right]))
  # One byte per record: 0 where no split took it, else the split index + 1.
  assert table == bytes([1, 0, 2, 0, 0, 3])
