"""The submission portal in headless Chromium, at a desktop and a phone width.

What an author sees is checked by measurement, not by eye: elements' sizes and
positions, no sideways scrolling at 390 px, the loading state, the newest answer
only, warnings, errors, and no console error (a Content-Security-Policy violation
would be one). Screenshots of each width are written next to the test's files.
"""

import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from components import features
from serving.categories import display_names
from tests.test_pipeline_e2e import LANGUAGE, VISION
from tests.test_serving import SHORT, serving_root_copy, start

# Delays the page's requests (the first by 1.5 s, later ones by 0.2 s) and counts
# them, so the loading state can be seen and answers can arrive out of order.
SLOW_FETCH = """
window.calls = 0;
const realFetch = window.fetch;
window.fetch = (url, options) => {
  const delay = ++window.calls === 1 ? 1500 : 200;
  return new Promise((resolve, reject) => {
    options.signal.addEventListener('abort',
        () => reject(new DOMException('aborted', 'AbortError')));
    setTimeout(() => realFetch(url, options).then(resolve, reject), delay);
  });
};
"""


@pytest.fixture(scope='module')
def server(first_run, tmp_path_factory):
  server = start(serving_root_copy(first_run, tmp_path_factory.mktemp('portal')))
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


@pytest.mark.parametrize('width', [1280, 390])
def test_suggestions_with_bars_and_evidence_fit_the_screen(server, browser, tmp_path, width):
  open_page(browser, server, width)
  fill(browser, VISION, 'Segmenting images with convolutions')
  browser.find_element(By.ID, 'suggest').click()
  wait_for_answer(browser)
  browser.save_screenshot(str(tmp_path / f'portal-{width}.png'))

  rows = browser.find_elements(By.CSS_SELECTOR, '#results tbody tr')
  assert len(rows) >= 8
  assert rows[0].get_attribute('data-label') == 'cs.CV'
  assert 'Computer Vision and Pattern Recognition' in rows[0].text
  why = rows[0].find_element(By.CLASS_NAME, 'why').text
  assert why.startswith('Because of: ')
  assert any(word in VISION.lower() for word in why[len('Because of: '):].split('\u201c'))
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
  browser.execute_script(SLOW_FETCH)
  fill(browser, VISION)
  browser.find_element(By.ID, 'suggest').click()
  button = browser.find_element(By.ID, 'suggest')
  assert not button.is_enabled()
  assert browser.find_element(By.ID, 'status').text == 'Suggesting\u2026'
  assert browser.find_element(By.ID, 'paper').get_attribute('aria-busy') == 'true'
  assert not browser.find_element(By.ID, 'answer').is_displayed()
  # A second question by keyboard while the first is out: only its answer shows.
  fill(browser, LANGUAGE)
  browser.find_element(By.ID, 'abstract').send_keys(Keys.CONTROL, Keys.ENTER)
  wait_for_answer(browser)
  first = browser.find_element(By.CSS_SELECTOR, '#results tbody tr').get_attribute('data-label')
  assert first != 'cs.CV'
  WebDriverWait(browser, 10).until(lambda b: b.execute_script('return window.calls') == 2)
  time.sleep(2)  # Past the first request's delay: an answer to it must not appear.
  assert browser.find_element(By.CSS_SELECTOR, '#results tbody tr').get_attribute(
      'data-label') == first
  assert button.is_enabled() and browser.find_element(By.ID, 'status').text == 'Done.'
  assert console_errors(browser) == []


def test_blank_abstract_is_not_sent_and_short_text_is_flagged(server, browser):
  open_page(browser, server)
  browser.execute_script(SLOW_FETCH)
  fill(browser, '   \n  ')
  browser.find_element(By.ID, 'suggest').click()
  error = browser.find_element(By.ID, 'error')
  assert error.text == 'Paste an abstract first.'
  assert error.get_attribute('role') == 'alert'
  assert browser.execute_script('return window.calls') == 0
  assert browser.switch_to.active_element.get_attribute('id') == 'abstract'
  fill(browser, SHORT)
  browser.find_element(By.ID, 'suggest').click()
  wait_for_answer(browser)
  warning = browser.find_element(By.ID, 'warning')
  assert warning.is_displayed() and 'too short' in warning.text
  assert browser.find_element(By.ID, 'error').text == ''


def test_server_errors_are_shown_in_words(first_run, browser, tmp_path):
  empty = start(str(tmp_path / 'no_model_yet'))
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
