"""The submission portal in headless Chromium, at a desktop and a phone width.

What an author sees is checked by measurement, not by eye: elements' sizes and
positions, no sideways scrolling at 390 px, the loading state, the newest answer
only, the evidence words, warnings, errors, and no console error (a
Content-Security-Policy violation would be one), and the policy itself. Screenshots
of each width are written next to the test's files.
"""

import collections
import http.client
import re
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from components import features
from serving.categories import CATEGORY_NAMES, display_names
from tests.conftest import (LANGUAGE, NO_EVIDENCE, SHORT, VISION, serving_root_copy,
                            start_server)

# Holds the page's requests until the test releases them (`window.release(i)`) and
# keeps each one's abort signal. A released request is answered even if the page
# aborted it, as an answer already on its way would be: the page must ignore it.
HELD_FETCH = """
window.requests = [];
window.answered = 0;
const realFetch = window.fetch;
window.fetch = (url, options) => new Promise((resolve, reject) => {
  window.requests.push({signal: options.signal, release: () =>
      realFetch(url, {...options, signal: undefined}).then(response => {
        resolve(response);
        window.answered++;
      }, reject)});
});
window.release = i => window.requests[i].release();
"""


@pytest.fixture(scope='module')
def server(first_run, tmp_path_factory):
  server = start_server(serving_root_copy(first_run, tmp_path_factory.mktemp('portal')))
  yield server
  server.stop()


def open_page(browser, server, width=1280):
  browser.set_window_size(width, 900)
  browser.get(server.url + '/')
  return browser


def fill(browser, abstract, title=''):
  for element_id, text in (('title', title), ('abstract', abstract)):
    box = browser.find_element(By.ID, element_id)
    box.clear()
    if text:
      browser.execute_script('arguments[0].value = arguments[1]', box, text)


def wait_for_answer(browser, seconds=30):
  WebDriverWait(browser, seconds).until(
      lambda b: b.find_element(By.ID, 'answer').is_displayed() and
      b.find_element(By.ID, 'suggest').is_enabled())


def console_errors(browser):
  return [entry for entry in browser.get_log('browser') if entry['level'] == 'SEVERE']


def explained_evidence(server, abstract, title):
  """{label: the evidence n-grams the page should show} from the served model's
  `explain` signature: those with a positive score, for each of the top-k labels."""
  outputs = server.models.current[1].outputs([abstract], [title], features.EXPLAIN_SIGNATURE)
  return {label.decode(): [ngram.decode() for ngram, score in zip(ngrams, scores)
                           if ngram and score > 0]
          for label, ngrams, scores in zip(outputs[features.TOP_K_LABELS_KEY][0],
                                           outputs[features.EVIDENCE_NGRAMS_KEY][0],
                                           outputs[features.EVIDENCE_SCORES_KEY][0])}


def shown_evidence(row):
  """The quoted n-grams of a result row's "Because of:" line ([] without one)."""
  lines = [why.text for why in row.find_elements(By.CLASS_NAME, 'why')]
  assert len(lines) <= 1 and all(line.startswith('Because of: \u201c') for line in lines)
  return re.findall('\u201c([^\u201d]*)\u201d', lines[0]) if lines else []


@pytest.mark.parametrize('width', [1280, 390])
def test_suggestions_with_bars_and_evidence_fit_the_screen(server, browser, tmp_path, width):
  title = 'Segmenting images with convolutions'
  open_page(browser, server, width)
  fill(browser, VISION, title)
  browser.find_element(By.ID, 'suggest').click()
  wait_for_answer(browser)
  browser.save_screenshot(str(tmp_path / f'portal-{width}.png'))

  rows = browser.find_elements(By.CSS_SELECTOR, '#results tbody tr')
  assert len(rows) >= 8
  assert rows[0].get_attribute('data-label') == 'cs.CV'
  assert 'Computer Vision and Pattern Recognition' in rows[0].text
  # Each row's evidence is what the model's explain signature names for its label.
  expected = explained_evidence(server, VISION, title)
  shown = {row.get_attribute('data-label'): shown_evidence(row) for row in rows}
  assert shown == {label: expected.get(label, []) for label in shown}
  words = set(re.findall(r'\w+', f'{title} {VISION}'.lower()))
  assert shown_evidence(rows[0]) and all(set(ngram.split()) <= words
                                         for ngram in shown_evidence(rows[0]))
  for row in rows:
    track = row.find_element(By.CLASS_NAME, 'track')
    bar = row.find_element(By.CLASS_NAME, 'bar')
    probability = float(row.find_element(By.CLASS_NAME, 'probability').text.split('%')[0])
    assert track.size['width'] >= 40 and bar.size['height'] > 0
    assert bar.size['width'] == pytest.approx(
        max(2, track.size['width'] * probability / 100), abs=2)
  viewport = browser.execute_script('return document.documentElement.clientWidth')
  assert browser.execute_script('return document.documentElement.scrollWidth') <= viewport
  for element in [*rows, browser.find_element(By.ID, 'suggest'),
                  browser.find_element(By.ID, 'abstract')]:
    assert element.location['x'] >= 0
    assert element.location['x'] + element.size['width'] <= viewport
  assert browser.find_element(By.ID, 'summary').text.startswith(('Suggested:', 'No category'))
  assert not browser.find_element(By.ID, 'warning').is_displayed()
  assert (tmp_path / f'portal-{width}.png').stat().st_size > 10_000
  assert console_errors(browser) == []


def test_loading_state_and_only_the_newest_answer_is_shown(server, browser):
  open_page(browser, server)
  browser.execute_script(HELD_FETCH)
  fill(browser, VISION)
  browser.find_element(By.ID, 'suggest').click()
  button = browser.find_element(By.ID, 'suggest')
  status = browser.find_element(By.ID, 'status')
  answer = browser.find_element(By.ID, 'answer')
  assert not button.is_enabled()
  assert status.text == 'Suggesting\u2026'
  assert browser.find_element(By.ID, 'paper').get_attribute('aria-busy') == 'true'
  assert not answer.is_displayed()
  # A second question by keyboard while the first is out: the page cancels the first.
  fill(browser, LANGUAGE)
  browser.find_element(By.ID, 'abstract').send_keys(Keys.CONTROL, Keys.ENTER)
  WebDriverWait(browser, 10).until(lambda b: b.execute_script(
      'return window.requests.length') == 2)
  assert browser.execute_script('return window.requests[0].signal.aborted')
  # The first answer arrives all the same, while the second is still out: it must
  # neither show nor end the loading state.
  browser.execute_script('window.release(0)')
  WebDriverWait(browser, 30).until(lambda b: b.execute_script('return window.answered') == 1)
  time.sleep(1)
  assert not answer.is_displayed()
  assert not button.is_enabled() and status.text == 'Suggesting\u2026'
  browser.execute_script('window.release(1)')
  wait_for_answer(browser)
  language, vision = server.models.current[1].predict([LANGUAGE, VISION])
  assert language.top_k[0][0] != vision.top_k[0][0]
  assert browser.find_element(By.CSS_SELECTOR, '#results tbody tr').get_attribute(
      'data-label') == language.top_k[0][0]
  assert status.text == 'Done.'
  assert console_errors(browser) == []


def test_blank_abstract_is_not_sent_and_short_text_is_flagged(server, browser):
  open_page(browser, server)
  browser.execute_script(HELD_FETCH)
  fill(browser, '   \n  ')
  browser.find_element(By.ID, 'suggest').click()
  error = browser.find_element(By.ID, 'error')
  assert error.text == 'Paste an abstract first.'
  assert error.get_attribute('role') == 'alert'
  assert browser.execute_script('return window.requests.length') == 0
  assert browser.switch_to.active_element.get_attribute('id') == 'abstract'
  fill(browser, SHORT)
  browser.find_element(By.ID, 'suggest').click()
  WebDriverWait(browser, 10).until(lambda b: b.execute_script(
      'return window.requests.length') == 1)
  browser.execute_script('window.release(0)')
  wait_for_answer(browser)
  warning = browser.find_element(By.ID, 'warning')
  assert warning.is_displayed() and 'too short' in warning.text
  assert browser.find_element(By.ID, 'error').text == ''


def test_no_suggestion_under_a_warning(server, browser):
  # Words of each warning the page must show (the empty text is never sent: above).
  words = {features.TOO_SHORT: 'too short', features.UNFAMILIAR: 'knows only',
           features.UNSUPPORTED_SCRIPT: 'not a language the model was trained on'}
  open_page(browser, server)
  for case, (abstract, warning) in NO_EVIDENCE.items():
    if not abstract:
      continue
    fill(browser, abstract)
    browser.find_element(By.ID, 'suggest').click()
    wait_for_answer(browser)
    shown = browser.find_element(By.ID, 'warning')
    assert shown.is_displayed() and words[warning] in shown.text, case
    assert 'nothing is suggested' in shown.text, case
    rows = browser.find_elements(By.CSS_SELECTOR, '#results tbody tr')
    assert rows, case
    assert [row.get_attribute('class') for row in rows] == ['below'] * len(rows), case
    assert {row.find_element(By.CLASS_NAME, 'verdict').text for row in rows} == {
        'not suggested'}, case
    assert browser.find_element(By.ID, 'summary').text.startswith(
        'No category is suggested'), case
  assert console_errors(browser) == []


def test_server_errors_are_shown_in_words(first_run, browser, tmp_path):
  empty = start_server(str(tmp_path / 'no_model_yet'))
  try:
    open_page(browser, empty)
    fill(browser, VISION)
    browser.find_element(By.ID, 'suggest').click()
    WebDriverWait(browser, 30).until(lambda b: b.find_element(By.ID, 'error').text)
    text = browser.find_element(By.ID, 'error').text
    assert text.startswith('The server could not suggest categories (503): no model version')
    assert not browser.find_element(By.ID, 'answer').is_displayed()
    assert browser.find_element(By.ID, 'suggest').is_enabled()
  finally:
    empty.stop()


def test_accessible_names_and_categories_people_can_tell_apart(server, browser):
  open_page(browser, server)
  for element_id in ('title', 'abstract'):
    assert browser.find_element(By.CSS_SELECTOR, f'label[for="{element_id}"]').text
  assert browser.find_element(By.ID, 'summary').get_attribute('aria-live') == 'polite'
  assert browser.find_element(By.ID, 'status').get_attribute('role') == 'status'
  names = browser.execute_script('return NAMES')
  assert names == display_names()
  assert names['cs.LG'] == 'Machine Learning (Computer Science)'
  assert names['stat.ML'] == 'Machine Learning (Statistics)'
  assert len(set(names.values())) == len(names)
  # The explain signature the page asks for is the one the model exports.
  assert features.EXPLAIN_SIGNATURE in browser.page_source


def test_the_portal_names_every_current_arxiv_category():
  """arxiv.org/category_taxonomy: 155 categories in 20 archives (aliases such as
  math.MP / math-ph listed under both)."""
  per_archive = collections.Counter(label.split('.')[0] for label in CATEGORY_NAMES)
  assert per_archive == {
      'astro-ph': 6, 'cond-mat': 9, 'cs': 40, 'econ': 3, 'eess': 4, 'gr-qc': 1,
      'hep-ex': 1, 'hep-lat': 1, 'hep-ph': 1, 'hep-th': 1, 'math': 32, 'math-ph': 1,
      'nlin': 5, 'nucl-ex': 1, 'nucl-th': 1, 'physics': 22, 'q-bio': 10, 'q-fin': 9,
      'quant-ph': 1, 'stat': 6}
  names = display_names()
  assert names['math.KT'] == 'K-Theory and Homology (Mathematics)'
  assert names['hep-th'] == 'High Energy Physics - Theory'
  assert len(set(names.values())) == len(names) == 155


def test_the_page_admits_only_its_own_nonced_script_and_style(tmp_path):
  server = start_server(str(tmp_path / 'no_model_yet'))  # The page needs no model.
  try:
    nonces = []
    for _ in range(2):
      connection = http.client.HTTPConnection(*server.server_address, timeout=60)
      connection.request('GET', '/')
      response = connection.getresponse()
      page = response.read().decode('utf-8')
      connection.close()
      assert response.status == 200
      policy = response.getheader('Content-Security-Policy')
      assert policy
      directives = {parts[0]: parts[1:] for parts in
                    (directive.split() for directive in policy.split(';')) if parts}
      [script_source] = directives['script-src']
      nonce = re.fullmatch(r"'nonce-([A-Za-z0-9_-]{16,})'", script_source).group(1)
      assert directives['style-src'] == [script_source]
      assert directives['default-src'] == ["'self'"]
      assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
      tags = re.findall(r'<(script|style)\b([^>]*)>', page)
      assert sorted(name for name, _ in tags) == ['script', 'style']
      assert all(attributes.strip() == f'nonce="{nonce}"' for _, attributes in tags)
      nonces.append(nonce)
    assert nonces[0] != nonces[1]  # A fresh nonce for every response.
  finally:
    server.stop()
