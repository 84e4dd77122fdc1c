"""The OAI-PMH harvester (pipeline/harvest.py) against a local server in arXiv's format."""

import gzip
import os
import signal
import subprocess
import sys
import time

import pytest

from pipeline import arxiv_papers
from pipeline import harvest
from pipeline.config import REPOSITORY_ROOT
from tests.conftest import papers_example_gen_keeps, read_csv_rows
from tests.fake_oai import FakeOai, record

# A June 2026 listing of set cs, three records a page.
JUNE = [
    record('2606.00003', 'Sparse  attention\n  for long documents', 'We study $O(n)$ attention & more.',
           'cs.CL cs.LG', '2026-06-03'),
    record('2606.00001', 'Old title', 'First version.', 'cs.CV', '2026-06-02'),
    record('2606.00009', deleted=True),
    record('2606.00004', 'Convex bounds', 'A bound for convex programs.', 'math.OC cs.IT',
           '2026-06-04'),  # Primary outside the set, cross-listed in cs: kept, all labels.
    record('2606.00005', 'Moduli spaces', 'Curves.', 'math.AG', '2026-06-04'),  # Not cs.
    record('2605.00007', 'A May paper', 'Revised in June.', 'cs.AI', '2026-06-05'),
    record('2606.00006', 'No abstract', '', 'cs.RO', '2026-06-06'),
    record('2606.00001', 'New title', 'Second version.', 'cs.CV cs.AI', '2026-06-20'),
]
EXPECTED_ROWS = [
    ['New title', 'Second version.', "['cs.CV', 'cs.AI']", '2606.00001'],
    ['Sparse attention for long documents', 'We study $O(n)$ attention & more.',
     "['cs.CL', 'cs.LG']", '2606.00003'],
    ['Convex bounds', 'A bound for convex programs.', "['math.OC', 'cs.IT']", '2606.00004'],
]


@pytest.fixture
def oai():
  servers = []

  def start(records=JUNE, **options):
    servers.append(FakeOai(records, **options))
    return servers[-1]
  yield start
  for server in servers:
    server.close()


def settings_for(server, tmp_path, **overrides):
  return harvest.HarvestSettings(**{'month': '2026-06', 'out_dir': str(tmp_path),
                                    'endpoint': server.url, 'delay_seconds': 0, **overrides})


def run(settings, sleeps=None):
  sleeps = [] if sleeps is None else sleeps
  return harvest.harvest(settings, harvest.OaiClient(settings, sleep=sleeps.append))


def test_a_month_is_harvested_page_by_page_into_the_pipelines_layout(oai, tmp_path):
  server = oai()
  report = run(settings_for(server, tmp_path))
  path = str(tmp_path / 'arxiv_cs_2026-06.csv.gz')
  assert report.files == {path: 3} and report.pages == 3
  assert read_csv_rows(path) == EXPECTED_ROWS
  with gzip.open(path, 'rt') as f:
    assert f.readline().strip() == 'titles,summaries,terms,arxiv_id'
  assert papers_example_gen_keeps(path)[2] == (
      'Convex bounds', 'A bound for convex programs.', ('math.OC', 'cs.IT'))
  assert report.deleted == 1
  assert dict(report.dropped.counts) == {
      'no_category_of_the_set': 1, 'id_of_another_month': 1, 'incomplete_record': 1,
      'listed_again': 1}
  assert server.requests[0] == {'verb': 'ListRecords', 'metadataPrefix': 'arXiv', 'set': 'cs',
                                'from': '2026-06-01'}
  assert server.requests[1:] == [{'verb': 'ListRecords', 'resumptionToken': 'tok1'},
                                 {'verb': 'ListRecords', 'resumptionToken': 'tok2'}]
  assert os.listdir(tmp_path) == ['arxiv_cs_2026-06.csv.gz']  # No state, no temporary.


def test_months_harvested_together_share_one_listing(oai, tmp_path):
  server = oai()
  report = run(settings_for(server, tmp_path, month='2026-05', to_month='2026-06'))
  may, june = (str(tmp_path / f'arxiv_cs_2026-0{m}.csv.gz') for m in (5, 6))
  assert report.files == {may: 1, june: 3} and len(server.requests) == 3
  assert server.requests[0]['from'] == '2026-05-01'
  assert read_csv_rows(may) == [['A May paper', 'Revised in June.', "['cs.AI']", '2605.00007']]
  assert 'id_of_another_month' not in report.dropped.counts


def test_a_busy_server_is_waited_for_as_it_says_and_requests_are_spaced(oai, tmp_path):
  server = oai(faults={'tok1': '503'}, retry_after='7')
  sleeps = []
  report = run(settings_for(server, tmp_path, delay_seconds=3, until='2026-07-15'), sleeps)
  assert list(report.files.values()) == [3]
  assert server.requests[0]['until'] == '2026-07-15'
  assert [r.get('resumptionToken') for r in server.requests] == [None, 'tok1', 'tok1', 'tok2']
  # Between requests: the polite delay (less the little time a request took), and
  # once the 503's Retry-After.
  assert 7 in sleeps
  pauses = [s for s in sleeps if s != 7]
  assert len(pauses) == 3 and all(2.5 < s <= 3 for s in pauses)


def test_an_expired_token_lists_the_window_again_and_each_paper_counts_once(oai, tmp_path):
  server = oai(faults={'tok2': 'expired'})
  report = run(settings_for(server, tmp_path))
  assert read_csv_rows(*report.files) == EXPECTED_ROWS
  assert [r.get('resumptionToken') for r in server.requests] == [
      None, 'tok1', 'tok2', None, 'tok1', 'tok2']
  assert report.dropped.counts['listed_again'] == 1 + 3  # The revision; page 1 again.


def test_a_malformed_page_is_fetched_again_and_one_that_stays_malformed_stops_the_harvest(
    oai, tmp_path):
  sleeps = []
  report = run(settings_for(oai(faults={'tok1': 'malformed'}), tmp_path / 'once'), sleeps)
  assert read_csv_rows(*report.files) == EXPECTED_ROWS and sleeps == [2]

  broken = oai(faults={'tok1': 'malformed'}, sticky=True)
  settings = settings_for(broken, tmp_path / 'always', retries=2)
  with pytest.raises(harvest.HarvestError, match='unreadable page .*not well-formed XML.*3 '
                     'times in a row'):
    run(settings)
  assert not os.path.exists(settings.output_path('2026-06'))
  assert sorted(os.listdir(settings.state_dir)) == ['page-00000.jsonl', 'state.json']


def test_an_unknown_set_stops_with_the_servers_answer_and_leaves_nothing(oai, tmp_path):
  settings = settings_for(oai(faults={'': 'no_records'}), tmp_path, oai_set='nope')
  with pytest.raises(harvest.HarvestError, match="no records match .*set 'nope'"):
    run(settings)
  assert os.listdir(tmp_path) == []


def test_a_killed_harvest_resumes_from_its_last_token_without_doubling(oai, tmp_path):
  server = oai(faults={'tok2': 'hang'})
  command = [sys.executable, os.path.join(REPOSITORY_ROOT, 'pipeline', 'harvest.py'),
             '--month', '2026-06', '--out-dir', str(tmp_path), '--endpoint', server.url,
             '--delay-seconds', '0']
  killed = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  deadline = time.monotonic() + 60
  while not any(r.get('resumptionToken') == 'tok2' for r in server.requests):
    assert time.monotonic() < deadline and killed.poll() is None
    time.sleep(0.05)
  killed.send_signal(signal.SIGKILL)
  killed.wait()
  assert not os.path.exists(tmp_path / 'arxiv_cs_2026-06.csv.gz')

  server.requests.clear()
  resumed = subprocess.run(command, capture_output=True, text=True, timeout=120)
  assert resumed.returncode == 0, resumed.stderr
  assert server.requests == [{'verb': 'ListRecords', 'resumptionToken': 'tok2'}]
  assert 'resuming the harvest' in resumed.stderr
  assert '3 pages (resumed); 1 deleted records skipped' in resumed.stdout
  assert f'{tmp_path}/arxiv_cs_2026-06.csv.gz: 3 papers' in resumed.stdout
  assert 'left out: 1 listed_again (e.g. 2606.00001)' in resumed.stdout
  assert read_csv_rows(str(tmp_path / 'arxiv_cs_2026-06.csv.gz')) == EXPECTED_ROWS


def test_a_saved_harvest_is_not_resumed_with_other_flags(oai, tmp_path):
  server = oai(faults={'tok1': 'malformed'}, sticky=True)
  with pytest.raises(harvest.HarvestError):
    run(settings_for(server, tmp_path, retries=0))
  with pytest.raises(harvest.HarvestError, match='holds a harvest of .*start it with its '
                     'flags, or delete that folder'):
    run(settings_for(server, tmp_path, until='2026-07-01'))


@pytest.mark.parametrize('arxiv_id, month', [
    ('2606.00001', '2026-06'), ('2606.00001v3', '2026-06'), ('0704.0001', '2007-04'),
    ('1412.9999', '2014-12'), ('hep-th/9901001', '1999-01'), ('math.AG/0601001', '2006-01'),
    ('cs/0112017v2', '2001-12')])
def test_a_paper_belongs_to_the_month_of_its_id(arxiv_id, month):
  assert arxiv_papers.month_of_id(arxiv_id) == month


@pytest.mark.parametrize('arxiv_id', ['2613.00001', 'hello', '2606.001', ''])
def test_what_is_not_an_arxiv_id_is_named(arxiv_id):
  with pytest.raises(ValueError, match='is not an arXiv identifier'):
    arxiv_papers.month_of_id(arxiv_id)


def test_category_filters():
  cs = arxiv_papers.CategoryFilter.for_archive('cs')
  assert cs(['math.OC', 'cs.IT']) and not cs(['math.AG']) and not cs(['csx.AB'])
  math = arxiv_papers.CategoryFilter.for_archive('math')
  assert math(['math.AG']) and not math(['math-ph'])
  assert arxiv_papers.CategoryFilter.for_archive('physics:hep-th')(['hep-th'])
  assert arxiv_papers.CategoryFilter('cs.LG,stat.ML')(['stat.ML'])
  assert arxiv_papers.CategoryFilter('all')(['q-bio.NC'])
  with pytest.raises(ValueError, match='no category pattern'):
    arxiv_papers.CategoryFilter(' , ')


def test_flags_are_checked_where_they_are_read():
  with pytest.raises(SystemExit):
    harvest.parse_settings(['--month', '2026-6', '--out-dir', 'x'])
  with pytest.raises(ValueError, match='--until .* on or after 2026-06-01'):
    harvest.HarvestSettings(month='2026-06', out_dir='x', until='2026-05-31')
