"""Harvests months of arXiv papers from arXiv's OAI-PMH interface into month files.

    python pipeline/harvest.py --month 2026-01 --to-month 2026-06 --set cs --out-dir data/arxiv

writes `data/arxiv/arxiv_cs_2026-01.csv.gz` ... `arxiv_cs_2026-06.csv.gz` in the layout
the pipeline's monthly input reads (pipeline/arxiv_papers.py): every paper whose arXiv
id is of that month and which has a category of the set. Months harvested together
share one listing (each listing runs from its first month to now).

How it talks to arXiv (OAI-PMH 2.0, https://www.openarchives.org/OAI/openarchivesprotocol.html;
arXiv's notes: https://info.arxiv.org/help/oa/index.html): `ListRecords` with
`metadataPrefix=arXiv` (id, title, abstract, space-separated categories, primary
first), the `set`, and `from` the first month's first day, since a record's datestamp
is its last change and a paper of the month is announced in it or later (`--until`
closes the window; by default it stays open, so revisions after the month do not
lose a paper). Pages follow `resumptionToken`s, one request at a time and at least
`--delay` seconds apart (arXiv asks for 3); a `503` is retried after its
`Retry-After`, other server errors and unreadable pages after a growing pause.

Nothing is lost or doubled: every page is saved under `<out-dir>/.<name>.harvest/`
with the token that follows it before the next request, so a harvest that is killed
or fails resumes from its last token when started again with the same flags; an
expired token (`badResumptionToken`) restarts the list from the window's start.
Deleted records are skipped, a paper listed again because it was revised counts once
(its newest version), and each record left out is counted with its reason. The month
files are written atomically at the end: the pipeline never reads half a month.
"""

import argparse
import collections
import dataclasses
import email.utils
import json
import logging
import os
import shutil
import sys
import time
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import defusedxml.ElementTree as safe_xml
import requests

if __package__ in (None, ''):  # Run as `python pipeline/harvest.py`.
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pipeline import arxiv_papers  # pylint: disable=wrong-import-position

ENDPOINT = 'https://oaipmh.arxiv.org/oai'
USER_AGENT = 'arxiv-subject-areas-harvester/1.0 (TFX pipeline; OAI-PMH 2.0)'
_OAI = '{http://www.openarchives.org/OAI/2.0/}'
_ARXIV = '{http://arxiv.org/OAI/arXiv/}'
_OAI_ID_PREFIX = 'oai:arXiv.org:'

log = logging.getLogger('harvest')


class HarvestError(RuntimeError):
  """The harvest cannot go on; what was saved is kept for the next start."""


@dataclasses.dataclass(frozen=True)
class HarvestSettings:
  """What to harvest, from where, and how politely."""
  month: str  # The first month of arXiv ids.
  out_dir: str
  to_month: str = ''  # The last; '' : `month` alone.
  oai_set: str = 'cs'
  categories: str = ''  # '' : the set's own categories (CategoryFilter.for_archive).
  until: str = ''  # YYYY-MM-DD; '' : open.
  prefix: str = ''  # '' : arxiv_<set>.
  endpoint: str = ENDPOINT
  delay_seconds: float = 3.0
  retries: int = 5  # Per page, for errors other than 503.
  max_retry_after_seconds: float = 3600.0
  busy_retries: int = 30  # 503s in a row on one page before giving up.
  timeout_seconds: float = 120.0
  max_restarts: int = 3  # Expired tokens in one harvest.

  def __post_init__(self):
    arxiv_papers.check_month(self.month)
    if self.to_month and arxiv_papers.check_month(self.to_month) < self.month:
      raise ValueError(f'--to-month {self.to_month} is before --month {self.month}')
    arxiv_papers.CategoryFilter(self.categories or 'all')
    if self.until and (len(self.until) != 10 or self.until < self.window_start):
      raise ValueError(f'--until {self.until!r}: expected YYYY-MM-DD on or after '
                       f'{self.window_start}')
    for name in ('delay_seconds', 'max_retry_after_seconds', 'timeout_seconds'):
      if getattr(self, name) < 0:
        raise ValueError(f'{name} must be 0 or more, got {getattr(self, name)}')
    for name in ('retries', 'busy_retries', 'max_restarts'):
      if getattr(self, name) < 0:
        raise ValueError(f'{name} must be 0 or more, got {getattr(self, name)}')

  @property
  def window_start(self) -> str:
    return f'{self.month}-01'

  @property
  def category_filter(self) -> arxiv_papers.CategoryFilter:
    if self.categories:
      return arxiv_papers.CategoryFilter(self.categories)
    return arxiv_papers.CategoryFilter.for_archive(self.oai_set)

  @property
  def last_month(self) -> str:
    return self.to_month or self.month

  def output_path(self, month: str) -> str:
    prefix = self.prefix or f'arxiv_{self.oai_set.split(":")[-1]}'
    return arxiv_papers.month_file(self.out_dir, prefix, month)

  @property
  def state_dir(self) -> str:
    directory, name = os.path.split(self.output_path(self.month))
    months = self.month if self.last_month == self.month else f'{self.month}_{self.last_month}'
    return os.path.join(directory, '.' + name.replace(self.month, months) + '.harvest')

  def list_request(self) -> Dict[str, str]:
    """The first ListRecords request of the window."""
    request = {'verb': 'ListRecords', 'metadataPrefix': 'arXiv', 'from': self.window_start}
    if self.oai_set:
      request['set'] = self.oai_set
    if self.until:
      request['until'] = self.until
    return request


@dataclasses.dataclass
class Page:
  """One ListRecords response, read."""
  records: List[dict]  # {'arxiv_id', 'datestamp', 'title', 'abstract', 'categories'}
  deleted: int
  token: Optional[str]  # None: the last page.
  error_code: Optional[str] = None
  error_message: str = ''


def parse_page(body: bytes) -> Page:
  """Reads an OAI-PMH ListRecords response. Raises ValueError when it is not one."""
  try:
    root = safe_xml.fromstring(body)
  except Exception as error:  # ParseError, or defusedxml's refusals (entities, DTDs).
    raise ValueError(f'not well-formed XML: {error}') from error
  if root.tag != f'{_OAI}OAI-PMH':
    raise ValueError(f'not an OAI-PMH response: root element {root.tag!r}')
  error = root.find(f'{_OAI}error')
  if error is not None:
    return Page([], 0, None, error.get('code', ''), (error.text or '').strip())
  listing = root.find(f'{_OAI}ListRecords')
  if listing is None:
    raise ValueError('an OAI-PMH response without ListRecords or error')
  records, deleted = [], 0
  for record in listing.findall(f'{_OAI}record'):
    header = record.find(f'{_OAI}header')
    if header is not None and header.get('status') == 'deleted':
      deleted += 1
      continue
    records.append(_record_fields(record))
  token_element = listing.find(f'{_OAI}resumptionToken')
  token = (token_element.text or '').strip() if token_element is not None else ''
  return Page(records, deleted, token or None)


def _record_fields(record) -> dict:
  """A record's fields as text ('' where missing: judged when the month is written)."""
  def text(parent, path):
    element = parent.find(path) if parent is not None else None
    return ''.join(element.itertext()) if element is not None else ''
  header = record.find(f'{_OAI}header')
  metadata = record.find(f'{_OAI}metadata/{_ARXIV}arXiv')
  identifier = text(header, f'{_OAI}identifier')
  return {
      'arxiv_id': text(metadata, f'{_ARXIV}id').strip() or identifier.replace(
          _OAI_ID_PREFIX, '', 1).strip(),
      'datestamp': text(header, f'{_OAI}datestamp').strip(),
      'title': text(metadata, f'{_ARXIV}title'),
      'abstract': text(metadata, f'{_ARXIV}abstract'),
      'categories': text(metadata, f'{_ARXIV}categories').split(),
  }


class OaiClient:
  """GETs OAI-PMH requests one at a time, `delay_seconds` apart, retrying as arXiv asks."""

  def __init__(self, settings: HarvestSettings,
               sleep: Callable[[float], None] = time.sleep,
               clock: Callable[[], float] = time.monotonic):
    self.settings = settings
    self._sleep, self._clock = sleep, clock
    self._session = requests.Session()
    self._session.headers['User-Agent'] = USER_AGENT
    self._last_request: Optional[float] = None

  def page(self, request: Dict[str, str]) -> Page:
    """The page `request` asks for, read; retried while the server is busy or fails."""
    failures = busy = 0
    while True:
      response, problem = self._get(request)
      if response is not None and response.status_code == 503:
        busy += 1
        if busy > self.settings.busy_retries:
          raise HarvestError(f'{self.settings.endpoint} answered 503 {busy} times in a row')
        wait = self._retry_after(response)
        log.info('the server is busy (503): waiting %.0f s as its Retry-After says', wait)
        self._sleep(wait)
        continue
      if response is not None and response.status_code == 200:
        try:
          return parse_page(response.content)
        except ValueError as error:
          problem = f'an unreadable page ({error})'
      elif response is not None:
        problem = f'HTTP {response.status_code}'
        if 400 <= response.status_code < 500:
          raise HarvestError(f'{self.settings.endpoint} answered {problem} to {request}')
      failures += 1
      if failures > self.settings.retries:
        raise HarvestError(f'{problem} from {self.settings.endpoint} for {request}, '
                           f'{failures} times in a row')
      wait = min(2 ** failures, 300)
      log.warning('%s for %s: trying again in %d s', problem, request, wait)
      self._sleep(wait)

  def _get(self, request: Dict[str, str]) -> Tuple[Optional[requests.Response], str]:
    if self._last_request is not None:
      pause = self._last_request + self.settings.delay_seconds - self._clock()
      if pause > 0:
        self._sleep(pause)
    self._last_request = self._clock()
    try:
      return self._session.get(self.settings.endpoint, params=request,
                               timeout=self.settings.timeout_seconds), ''
    except requests.RequestException as error:
      return None, f'{type(error).__name__}: {error}'

  def _retry_after(self, response: requests.Response) -> float:
    """Retry-After in seconds (a number or an HTTP date), at least the delay."""
    value = response.headers.get('Retry-After', '').strip()
    seconds = self.settings.delay_seconds
    if value.isdigit():
      seconds = float(value)
    elif value:
      try:
        seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
      except (TypeError, ValueError):
        pass
    return min(max(seconds, self.settings.delay_seconds), self.settings.max_retry_after_seconds)


class HarvestState:
  """The pages saved so far and the token that follows them, in `settings.state_dir`.

  A page's records are written (atomically) before the state that points past it, so
  a harvest killed between the two fetches that page again and overwrites it: no
  record is saved twice.
  """

  def __init__(self, settings: HarvestSettings):
    self.directory = settings.state_dir
    self.path = os.path.join(self.directory, 'state.json')
    self.request = settings.list_request()
    self.pages, self.token, self.listed, self.restarts, self.deleted = 0, None, False, 0, 0
    if os.path.exists(self.path):
      with open(self.path) as f:
        saved = json.load(f)
      if saved['request'] != self.request:
        raise HarvestError(f'{self.directory} holds a harvest of {saved["request"]}, not '
                           f'{self.request}: start it with its flags, or delete that folder')
      for name in ('pages', 'token', 'listed', 'restarts', 'deleted'):
        setattr(self, name, saved[name])
    os.makedirs(self.directory, exist_ok=True)

  @property
  def resumed(self) -> bool:
    return self.pages > 0

  def save_page(self, page: Page) -> None:
    _write_atomically(self._page_path(self.pages), '\n'.join(
        json.dumps(record, ensure_ascii=False) for record in page.records))
    self.pages += 1
    self.token = page.token
    self.listed = page.token is None
    self.deleted += page.deleted
    self._save()

  def restart(self) -> None:
    """After an expired token: the list again from the window's start."""
    self.token = None
    self.restarts += 1
    self._save()

  def records(self) -> Iterator[dict]:
    for number in range(self.pages):
      with open(self._page_path(number), encoding='utf-8') as f:
        for line in f:
          if line.strip():
            yield json.loads(line)

  def remove(self) -> None:
    shutil.rmtree(self.directory)

  def _page_path(self, number: int) -> str:
    return os.path.join(self.directory, f'page-{number:05d}.jsonl')

  def _save(self) -> None:
    _write_atomically(self.path, json.dumps({
        'request': self.request, 'pages': self.pages, 'token': self.token,
        'listed': self.listed, 'restarts': self.restarts, 'deleted': self.deleted}))


def _write_atomically(path: str, text: str) -> None:
  with open(path + '.tmp', 'w', encoding='utf-8') as f:
    f.write(text)
  os.replace(path + '.tmp', path)


@dataclasses.dataclass
class HarvestReport:
  files: Dict[str, int]  # path -> papers
  pages: int
  deleted: int
  dropped: arxiv_papers.DropCounts
  resumed: bool


def harvest(settings: HarvestSettings, client: Optional[OaiClient] = None) -> HarvestReport:
  """Harvests the months into their files; resumes a harvest left unfinished."""
  client = client or OaiClient(settings)
  state = HarvestState(settings)
  resumed = state.resumed
  if resumed:
    log.info('resuming the harvest saved in %s after page %d', state.directory, state.pages)
  while not state.listed:
    request = ({'verb': 'ListRecords', 'resumptionToken': state.token} if state.token
               else settings.list_request())
    page = client.page(request)
    if page.error_code == 'badResumptionToken':
      if state.restarts >= settings.max_restarts:
        raise HarvestError(f'resumption tokens expired {state.restarts + 1} times: '
                           f'{page.error_message}')
      log.warning('the resumption token expired (%s): listing the window again from %s; '
                  'papers seen twice count once', page.error_message, settings.window_start)
      state.restart()
      continue
    if page.error_code == 'noRecordsMatch' and state.pages == 0:
      state.remove()
      raise HarvestError(f'no records match {request} ({page.error_message}): is there a '
                         f'set {settings.oai_set!r}, and papers since {settings.window_start}?')
    if page.error_code:
      raise HarvestError(f'{settings.endpoint} answered {page.error_code}: '
                         f'{page.error_message}')
    state.save_page(page)
    log.info('page %d: %d records, %d deleted%s', state.pages, len(page.records),
             page.deleted, '' if page.token else ' (the last)')
  kept, dropped = select_papers(state.records(), settings)
  by_month = collections.defaultdict(list)
  for paper in kept:
    by_month[paper.month].append(paper)
  files = {settings.output_path(month): arxiv_papers.write_month_file(
      settings.output_path(month), papers) for month, papers in sorted(by_month.items())}
  report = HarvestReport(files, state.pages, state.deleted, dropped, resumed)
  state.remove()
  return report


def select_papers(records: Iterator[dict], settings: HarvestSettings
                  ) -> Tuple[List[arxiv_papers.ArxivPaper], arxiv_papers.DropCounts]:
  """The months' papers of the set, each once (its newest version), and why the other
  records were left out."""
  newest: Dict[str, Tuple[str, arxiv_papers.ArxivPaper]] = {}
  dropped = arxiv_papers.DropCounts()
  keep_categories = settings.category_filter
  for record in records:
    arxiv_id = record['arxiv_id'] or '?'
    try:
      paper = arxiv_papers.clean_paper(arxiv_id, record['title'], record['abstract'],
                                       record['categories'])
    except ValueError as error:
      dropped.add('incomplete_record', str(error))
      continue
    if not settings.month <= paper.month <= settings.last_month:
      dropped.add('id_of_another_month', paper.arxiv_id)
      continue
    if not keep_categories(paper.categories):
      dropped.add('no_category_of_the_set', f'{paper.arxiv_id} {" ".join(paper.categories)}')
      continue
    if paper.arxiv_id in newest:
      dropped.add('listed_again', paper.arxiv_id)  # Revised, or a list started again.
      if record['datestamp'] < newest[paper.arxiv_id][0]:
        continue
    newest[paper.arxiv_id] = (record['datestamp'], paper)
  return [paper for _, paper in newest.values()], dropped


def parse_settings(argv: Optional[List[str]] = None) -> HarvestSettings:
  defaults = argparse.Namespace(**{field.name: field.default
                                   for field in dataclasses.fields(HarvestSettings)})
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--month', required=True, help='the (first) month of arXiv ids, YYYY-MM')
  parser.add_argument('--to-month', default=defaults.to_month,
                      help='the last month, YYYY-MM (default: --month alone)')
  parser.add_argument('--out-dir', required=True, help='where the month files go')
  parser.add_argument('--set', dest='oai_set', default=defaults.oai_set,
                      help='OAI-PMH set: an arXiv archive such as cs, math, physics:hep-th '
                      '(default: %(default)s)')
  parser.add_argument('--categories', default=defaults.categories,
                      help='keep papers with a category matching these (cs.*, cs.LG,stat.ML, '
                      'all); default: the set\'s own')
  parser.add_argument('--until', default=defaults.until,
                      help='last datestamp YYYY-MM-DD (default: open, so revisions after the '
                      'month keep their paper)')
  parser.add_argument('--prefix', default=defaults.prefix,
                      help='file name prefix (default: arxiv_<set>)')
  parser.add_argument('--endpoint', default=defaults.endpoint, help='default: %(default)s')
  parser.add_argument('--delay-seconds', type=float, default=defaults.delay_seconds,
                      help='least time between requests (default: %(default)s; arXiv asks for 3)')
  parser.add_argument('--retries', type=int, default=defaults.retries,
                      help='per page, for errors other than 503 (default: %(default)s)')
  args = parser.parse_args(argv)
  try:
    return HarvestSettings(**vars(args))
  except ValueError as error:
    parser.error(str(error))


def main(argv: Optional[List[str]] = None) -> int:
  settings = parse_settings(argv)
  logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s', stream=sys.stderr)
  try:
    report = harvest(settings)
  except HarvestError as error:
    print(f'harvest stopped: {error}\nwhat was saved stays in {settings.state_dir}; the '
          'same command resumes from there', file=sys.stderr)
    return 1
  print(f'{report.pages} pages{" (resumed)" if report.resumed else ""}; '
        f'{report.deleted:,} deleted records skipped')
  for path, papers in report.files.items():
    print(f'{path}: {papers:,} papers')
  for line in report.dropped.lines():
    print(f'  left out: {line}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
