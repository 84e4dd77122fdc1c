"""The documentation stays true to the repository: README.md and docs/*.md link only
to files and headings that exist, name only `make` targets the Makefile has, and the
README's picture of the DAG shows the pipeline's components and edges as defined."""

import glob
import os
import re
import unicodedata
import xml.etree.ElementTree as ElementTree
from typing import Dict, List, Set, Tuple

import pytest

from tools import draw_pipeline

REPOSITORY_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = sorted([os.path.join(REPOSITORY_ROOT, 'README.md')] +
               glob.glob(os.path.join(REPOSITORY_ROOT, 'docs', '*.md')))
PICTURE = os.path.join(REPOSITORY_ROOT, 'docs', 'images', 'pipeline.svg')

FENCE = re.compile(r'^(```|~~~).*?^\1[^\n]*$', re.MULTILINE | re.DOTALL)
# A code span may wrap lines, not cross a blank one.
INLINE_CODE = re.compile(r'(`+)((?:(?!\n\s*\n).)+?)\1', re.DOTALL)
# [text](target) and ![alt](target); the target ends at whitespace or ')'.
LINK = re.compile(r'!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')
HEADING = re.compile(r'^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$', re.MULTILINE)
TARGET = re.compile(r'^([A-Za-z0-9][\w.-]*)\s*:(?!=)', re.MULTILINE)


def github_slug(heading: str) -> str:
  """The anchor GitHub gives a heading: its rendered text lower-cased, punctuation
  but '-' and '_' removed, each space a hyphen (github-slugger's rules)."""
  text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', heading)  # Links: their text.
  text = re.sub(r'(`+)(.+?)\1', r'\2', text)  # Code spans: their content.
  text = re.sub(r'\*+', '', text)  # Emphasis markers.
  return ''.join(c for c in text.lower()
                 if c in ' -_' or unicodedata.category(c)[0] in 'LNM').replace(' ', '-')


def anchors(path: str) -> Set[str]:
  """The heading anchors of a Markdown file, repeats numbered as GitHub numbers them."""
  with open(path, encoding='utf-8') as f:
    text = FENCE.sub('', f.read())
  seen: Dict[str, int] = {}
  result = set()
  for _, heading in HEADING.findall(text):
    slug = github_slug(heading)
    result.add(f'{slug}-{seen[slug]}' if slug in seen else slug)
    seen[slug] = seen.get(slug, 0) + 1
  return result


def links(path: str) -> List[str]:
  """Every link target of a Markdown file, outside code."""
  with open(path, encoding='utf-8') as f:
    text = INLINE_CODE.sub('', FENCE.sub('', f.read()))
  return LINK.findall(text)


def broken_links(path: str) -> List[str]:
  """The relative links of `path` whose file or #anchor does not exist."""
  problems = []
  for target in links(path):
    if re.match(r'[a-z][a-z0-9+.-]*:', target, re.IGNORECASE):
      continue  # https:, mailto: and the like: not the repository's to check.
    file_part, _, anchor = target.partition('#')
    linked = (os.path.normpath(os.path.join(os.path.dirname(path), file_part))
              if file_part else path)
    if not os.path.exists(linked):
      problems.append(f'{target}: no file {os.path.relpath(linked, REPOSITORY_ROOT)}')
    elif anchor and not (linked.endswith('.md') and anchor in anchors(linked)):
      problems.append(f'{target}: no heading #{anchor} in '
                      f'{os.path.relpath(linked, REPOSITORY_ROOT)}')
  return problems


def make_targets_named(path: str) -> Set[str]:
  """Targets of `make ...` commands in code: inline spans and lines of code blocks."""
  with open(path, encoding='utf-8') as f:
    text = f.read()
  commands = [span for _, span in INLINE_CODE.findall(FENCE.sub('', text))]
  commands += [line for block in FENCE.finditer(text) for line in block.group().splitlines()]
  targets = set()
  for command in commands:
    # `make` as a command: first, or after a shell separator (not in prose).
    for match in re.finditer(r'(?:^|&&|\|\||;)\s*(?:\$\s+)?make((?:\s+[a-z][\w-]*(?=\s|$))+)',
                             command.strip()):
      targets.update(match.group(1).split())
  return targets


def makefile_targets() -> Set[str]:
  with open(os.path.join(REPOSITORY_ROOT, 'Makefile'), encoding='utf-8') as f:
    return set(TARGET.findall(f.read()))


def picture_structure(path: str) -> Tuple[List[str], Set[Tuple[str, str]]]:
  """The component ids the SVG names (every text in it, sorted) and its edges."""
  root = ElementTree.parse(path).getroot()
  texts = sorted(''.join(element.itertext()) for element in root.iter()
                 if element.tag.rpartition('}')[2] == 'text')
  edges, boxes = set(), {}
  for element in root.iter():
    kind, _, name = element.get('id', '').partition(':')
    if kind == 'edge':
      source, _, target = name.partition(':')
      edges.add((source, target))
    elif kind == 'node':
      boxes[name] = ''.join(''.join(text.itertext()) for text in element.iter()
                            if text.tag.rpartition('}')[2] == 'text')
  assert all(label == name for name, label in boxes.items()), boxes
  assert sorted(boxes) == texts, (sorted(boxes), texts)
  return texts, edges


def test_there_are_pages_to_check():
  assert os.path.join(REPOSITORY_ROOT, 'README.md') in PAGES
  assert len(PAGES) > 1, PAGES


def test_github_slug_follows_githubs_rules():
  assert github_slug("Quality on next month's papers: `make backtest` (the headline)") == (
      'quality-on-next-months-papers-make-backtest-the-headline')
  assert github_slug('Beyond one machine: Vertex AI, Kubeflow Pipelines') == (
      'beyond-one-machine-vertex-ai-kubeflow-pipelines')
  assert github_slug('`run_local.py` — options') == 'run_localpy--options'


@pytest.mark.parametrize('page', PAGES, ids=lambda p: os.path.relpath(p, REPOSITORY_ROOT))
def test_relative_links_point_somewhere(page):
  assert not broken_links(page)


def test_a_broken_link_is_caught(tmp_path):
  (tmp_path / 'other.md').write_text('# Some heading\n\n## Some heading\n', encoding='utf-8')
  page = tmp_path / 'page.md'
  page.write_text(
      '# Title\n'
      '[fine](other.md#some-heading-1) [fine](#title) [web](https://example.com/x.md)\n'
      '`[not a link](nowhere.md)`\n'
      '[missing](missing.md) [bad anchor](other.md#other-heading) [here](#nothing)\n',
      encoding='utf-8')
  assert broken_links(str(page)) == [
      'missing.md: no file ' + os.path.relpath(str(tmp_path / 'missing.md'), REPOSITORY_ROOT),
      'other.md#other-heading: no heading #other-heading in '
      + os.path.relpath(str(tmp_path / 'other.md'), REPOSITORY_ROOT),
      '#nothing: no heading #nothing in '
      + os.path.relpath(str(page), REPOSITORY_ROOT)]


def test_make_targets_named_in_the_docs_exist():
  named = set().union(*(make_targets_named(page) for page in PAGES))
  assert {'run', 'test'} <= named
  assert named - makefile_targets() == set()


def test_make_targets_are_read_from_code(tmp_path):
  page = tmp_path / 'page.md'
  page.write_text('Run `make run` or `make  bench-serve ARGS=--seconds`; to make it so.\n'
                  '```sh\nmake kubeflow KUBEFLOW_ARGS="--image x"\ncd /x && make test\n```\n',
                  encoding='utf-8')
  assert make_targets_named(str(page)) == {'run', 'bench-serve', 'kubeflow', 'test'}
  assert {'run', 'test', 'pipeline-image'} <= makefile_targets()


def test_the_pipeline_picture_shows_the_pipeline_as_defined(tmp_path):
  nodes, edges = draw_pipeline.pipeline_graph()  # Loads TFX.
  redrawn = str(tmp_path / 'pipeline.svg')
  draw_pipeline.draw(nodes, edges, redrawn)
  expected = (sorted(nodes), set(edges))
  assert picture_structure(redrawn) == expected
  # The committed picture: redraw it with `make pipeline-image` when this fails.
  assert picture_structure(PICTURE) == expected
