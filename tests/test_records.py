"""Parsing, cleaning and split assignment rules of ArxivExampleGen (no Beam)."""

import collections
import io

import pytest

from components.example_gen import records
from components.example_gen.records import DropReason


@pytest.mark.parametrize('text, expected', [
    ("['cs.CV', 'cs.LG']", ('cs.CV', 'cs.LG')),
    ('["cs.CL"]', ('cs.CL',)),
    ("  [ 'cs.AI' ,'stat.ML', ]  ", ('cs.AI', 'stat.ML')),
    ("['cs.LG', 'cs.LG', 'cs.CV']", ('cs.LG', 'cs.CV')),  # repeats dropped, order kept
    ("[' cs.RO ', '']", ('cs.RO',)),  # stray whitespace stripped, empty dropped
    ("['I.2.6; I.2.8', 'a, b]']", ('I.2.6; I.2.8', 'a, b]')),  # separators inside quotes
    ("[]", ()),
])
def test_parse_terms_reads_list_literals(text, expected):
  assert records.parse_terms(text) == expected


@pytest.mark.parametrize('text', [
    'cs.CV',
    "['cs.CV'",
    "['cs.CV' 'cs.LG']",
    "['cs.CV'] + ['x']",
    "[1, 2]",
    "[__import__('os').system('touch /tmp/pwned')]",
    "['a'.join(['b'])]",
    '[' * 100_000,  # Would exhaust a recursive parser.
])
def test_parse_terms_rejects_anything_but_a_list_of_strings(text):
  with pytest.raises(records.TermsError):
    records.parse_terms(text)


def _read(text, path='f.csv'):
  return list(records.read_csv_records(path, io.StringIO(text, newline='')))


def test_read_csv_records_handles_quoted_multiline_abstracts_and_column_order():
  text = ('extra,terms,summaries,titles\n'
          'x,"[\'cs.CV\']","Line one,\nline two.",A title\n')
  [paper] = _read(text)
  assert paper == records.Paper(('f.csv', 0), 'A title', 'Line one,\nline two.', ('cs.CV',))


def test_read_csv_records_reports_missing_columns_by_name():
  with pytest.raises(records.InputError, match=r'f.csv: missing required column\(s\) terms'):
    _read('titles,summaries\na,b\n')


def test_read_csv_records_drops_bad_rows_with_their_reason():
  text = ('titles,summaries,terms\n'
          'ok,abstract,"[\'cs.CV\']"\n'
          ',abstract,"[\'cs.CV\']"\n'
          'no abstract,  ,"[\'cs.CV\']"\n'
          'bad terms,abstract,cs.CV\n'
          'no labels,abstract,[]\n'
          'short row,abstract\n'
          'bad bytes \udcff,abstract,"[\'cs.CV\']"\n')
  reasons = [r.reason if isinstance(r, records.Dropped) else 'kept' for r in _read(text)]
  assert reasons == ['kept', DropReason.EMPTY_TITLE, DropReason.EMPTY_ABSTRACT,
                     DropReason.UNPARSABLE_TERMS, DropReason.NO_LABELS,
                     DropReason.MALFORMED_ROW, DropReason.INVALID_UTF8]


def test_duplicate_key_ignores_case_and_whitespace():
  assert records.duplicate_key('Deep  Learning\tfor X') == records.duplicate_key('deep learning for x')


def test_combination_key_is_the_label_set():
  assert records.combination_key(('cs.LG', 'cs.CV')) == records.combination_key(('cs.CV', 'cs.LG'))


def test_unit_hash_is_stable_and_seeded():
  assert records.unit_hash(1, 'a') == records.unit_hash(1, 'a')
  assert records.unit_hash(1, 'a') != records.unit_hash(2, 'a')
  assert 0 <= records.unit_hash(3, 'b') < 1


@pytest.mark.parametrize('size', [2, 3, 7, 20, 101])
@pytest.mark.parametrize('offset', [0.0, 0.31, 0.999])
def test_split_for_rank_gives_each_split_its_fraction_within_one_row(size, offset):
  fractions = (0.9, 0.05, 0.05)
  counts = collections.Counter(
      records.split_for_rank(rank, size, offset, fractions) for rank in range(size))
  for split, fraction in enumerate(fractions):
    assert abs(counts[split] - fraction * size) < 1 + 1e-9


def test_split_for_rank_is_unbiased_over_random_offsets():
  fractions = (0.9, 0.05, 0.05)
  counts = collections.Counter()
  for group in range(4000):  # Many groups of two, the commonest small group.
    offset = records.unit_hash(7, str(group))
    counts.update(records.split_for_rank(rank, 2, offset, fractions) for rank in range(2))
  total = sum(counts.values())
  assert counts[0] / total == pytest.approx(0.9, abs=0.01)
  assert counts[1] / total == pytest.approx(0.05, abs=0.01)
  assert counts[2] / total == pytest.approx(0.05, abs=0.01)


def test_fingerprint_is_stable_and_fits_a_signed_64_bit_integer():
  values = [records.fingerprint(f'title {i}') for i in range(1000)]
  assert values[0] == records.fingerprint('title 0')
  assert len(set(values)) == len(values)
  assert all(0 <= value < 2**63 for value in values)
  assert records.fingerprint('a', 'b') != records.fingerprint('ab')
