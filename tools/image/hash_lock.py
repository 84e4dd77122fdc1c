"""Adds PyPI's sha256 hashes to requirements-runtime.lock, for pip's --require-hashes.

Each pin gets the hashes of the files the image can install for it: the wheels whose
tags this interpreter accepts (the image's: CPython 3.10, Linux x86_64, glibc 2.36 as
Debian bookworm's), or, for the packages in tools/image/sdists.txt, the source
archive the builder stage compiles. A pin with neither is an error naming it, as
`make image-check` would fail on it. Hashes come from PyPI's JSON index (PEP 691), so
a file that changed or a mirror that serves another one fails the image's install.

Usage (`make hash-lock`): python tools/image/hash_lock.py [LOCK]
"""

import json
import os
import re
import sys
import urllib.request
from typing import List, Set

from packaging import tags, utils

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..')
LOCK = os.path.join(ROOT, 'requirements-runtime.lock')
SDISTS = os.path.join(ROOT, 'tools', 'image', 'sdists.txt')
INDEX = 'https://pypi.org/simple/{}/'
PIN = re.compile(r'^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)')


def source_only_packages(path: str = SDISTS) -> Set[str]:
  """The normalized names in tools/image/sdists.txt."""
  with open(path) as f:
    return {utils.canonicalize_name(line.split('#')[0].strip())
            for line in f if line.split('#')[0].strip()}


def index_files(name: str) -> List[dict]:
  request = urllib.request.Request(INDEX.format(name),
                                   headers={'Accept': 'application/vnd.pypi.simple.v1+json'})
  with urllib.request.urlopen(request, timeout=60) as response:
    return json.load(response)['files']


def installable_hashes(name: str, version: str, files: List[dict], from_source: bool,
                       accepted: Set[tags.Tag]) -> List[str]:
  """sha256 hashes of the files of `name==version` the image would install."""
  wanted = utils.canonicalize_version(version)
  hashes = []
  for file in files:
    filename = file['filename']
    if file.get('yanked') or 'sha256' not in file['hashes']:
      continue
    if filename.endswith('.whl'):
      try:
        _, file_version, _, file_tags = utils.parse_wheel_filename(filename)
      except utils.InvalidWheelFilename:  # Old uploads PyPI kept from before PEP 427.
        continue
      if not from_source and file_tags & accepted and (
          utils.canonicalize_version(file_version) == wanted):
        hashes.append(file['hashes']['sha256'])
    elif from_source and filename.endswith(('.tar.gz', '.zip')):
      try:
        _, file_version = utils.parse_sdist_filename(filename)
      except utils.InvalidSdistFilename:
        continue
      if utils.canonicalize_version(file_version) == wanted:
        hashes.append(file['hashes']['sha256'])
  if not hashes:
    kind = 'source archive' if from_source else 'wheel for CPython 3.10 on Linux x86_64'
    raise ValueError(f'{name}=={version}: PyPI has no {kind}' + (
        '' if from_source else ' (build it in the image\'s builder stage: tools/image/sdists.txt)'))
  return sorted(hashes)


def hashed_lock(text: str, lookup=index_files) -> str:
  """The lock's text with each pin on one line followed by its --hash options."""
  if sys.version_info[:2] != (3, 10) or not sys.platform.startswith('linux'):
    raise SystemExit('run with the image\'s Python: CPython 3.10 on Linux x86_64')
  accepted = set(tags.sys_tags())
  from_source = source_only_packages()
  lines = []
  for line in text.splitlines():
    pin = PIN.match(line)
    if not pin:
      lines.append(line)
      continue
    name = utils.canonicalize_name(pin['name'])
    hashes = installable_hashes(pin['name'], pin['version'], lookup(name),
                                name in from_source, accepted)
    lines.append(f'{pin["name"]}=={pin["version"]} ' +
                 ' '.join(f'--hash=sha256:{h}' for h in hashes))
  return '\n'.join(lines) + '\n'


def main(argv: List[str]) -> int:
  path = argv[1] if len(argv) > 1 else LOCK
  with open(path) as f:
    text = f.read()
  try:
    hashed = hashed_lock(text)
  except ValueError as error:
    print(f'hash_lock: {error}', file=sys.stderr)
    return 1
  with open(path + '.tmp', 'w') as f:
    f.write(hashed)
  os.replace(path + '.tmp', path)
  print(f'{path}: {sum(1 for line in hashed.splitlines() if PIN.match(line))} pins hashed')
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv))
