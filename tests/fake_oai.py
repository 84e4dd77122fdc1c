"""A local OAI-PMH 2.0 server that answers ListRecords as arXiv's does, with faults on cue.

Pages hold `page_size` records in arXiv's metadata format (metadataPrefix=arXiv); each
but the last ends with a resumptionToken `tok<N>`, the last with an empty one, as the
protocol asks. `faults` maps a token ('' for the first request) to what goes wrong
the next time it is asked for: '503' (busy, Retry-After: `retry_after`), 'malformed'
(a truncated page), 'expired' (the error badResumptionToken), 'hang' (no answer for a
minute), 'no_records' (the error noRecordsMatch). Each fault fires once unless
`sticky`. Every request's query is kept in `requests`.
"""

import http.server
import threading
import time
import urllib.parse
from typing import Dict, List, Sequence
from xml.sax.saxutils import escape

_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
         '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" '
         'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
         'xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/ '
         'http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">\n'
         '<responseDate>2026-07-02T10:00:00Z</responseDate>\n'
         '<request verb="ListRecords">http://localhost/oai</request>\n')


def record(arxiv_id: str, title: str = '', abstract: str = '', categories: str = 'cs.LG',
           datestamp: str = '2026-06-10', deleted: bool = False) -> str:
  """One <record> in arXiv's format (a deleted one has a header only)."""
  status = ' status="deleted"' if deleted else ''
  header = (f'<header{status}>'
            f'<identifier>oai:arXiv.org:{arxiv_id}</identifier>'
            f'<datestamp>{datestamp}</datestamp><setSpec>cs</setSpec></header>')
  if deleted:
    return f'<record>{header}</record>'
  return (
      f'<record>{header}<metadata>'
      '<arXiv xmlns="http://arxiv.org/OAI/arXiv/" '
      'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
      'xsi:schemaLocation="http://arxiv.org/OAI/arXiv/ http://arxiv.org/OAI/arXiv.xsd">'
      f'<id>{arxiv_id}</id><created>2026-06-01</created><updated>{datestamp}</updated>'
      '<authors><author><keyname>Doe</keyname><forenames>Jane</forenames></author></authors>'
      f'<title>{escape(title)}</title><categories>{categories}</categories>'
      '<comments>12 pages, 3 figures</comments>'
      '<license>http://creativecommons.org/licenses/by/4.0/</license>'
      f'<abstract>  {escape(abstract)}\n</abstract></arXiv></metadata></record>')


class FakeOai:

  def __init__(self, records: Sequence[str], page_size: int = 3, retry_after: str = '1',
               faults: Dict[str, str] = None, sticky: bool = False):
    self.pages = [list(records[i:i + page_size]) for i in range(0, len(records), page_size)]
    self.retry_after, self.faults, self.sticky = retry_after, dict(faults or {}), sticky
    self.requests: List[Dict[str, str]] = []
    fake = self

    class Handler(http.server.BaseHTTPRequestHandler):

      def do_GET(self):  # pylint: disable=invalid-name
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        fake.requests.append(query)
        status, headers, body = fake.answer(query)
        if status is None:
          return
        self.send_response(status)
        for name, value in headers.items():
          self.send_header(name, value)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

      def log_message(self, *args):
        pass

    self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    self.server.daemon_threads = True
    self.url = f'http://127.0.0.1:{self.server.server_address[1]}/oai'
    threading.Thread(target=self.server.serve_forever, daemon=True).start()

  def answer(self, query):
    token = query.get('resumptionToken', '')
    fault = self.faults.get(token)
    if fault and not self.sticky:
      del self.faults[token]
    if fault == 'hang':
      time.sleep(60)
      return None, {}, b''
    if fault == '503':
      return 503, {'Retry-After': self.retry_after, 'Content-Type': 'text/html'}, (
          b'<html><body>Retry after the time given</body></html>')
    if fault in ('expired', 'no_records'):
      code = 'badResumptionToken' if fault == 'expired' else 'noRecordsMatch'
      return 200, {'Content-Type': 'text/xml'}, (
          f'{_HEAD}<error code="{code}">the token {token} has expired or no records '
          'match</error></OAI-PMH>').encode()
    number = int(token[3:]) if token else 0
    last = number == len(self.pages) - 1
    next_token = '' if last else f'tok{number + 1}'
    body = (f'{_HEAD}<ListRecords>{"".join(self.pages[number])}'
            f'<resumptionToken cursor="{number * 3}">{next_token}</resumptionToken>'
            '</ListRecords></OAI-PMH>').encode()
    if fault == 'malformed':
      body = body[:len(body) // 2]
    return 200, {'Content-Type': 'text/xml; charset=utf-8'}, body

  def close(self):
    self.server.shutdown()
    self.server.server_close()
