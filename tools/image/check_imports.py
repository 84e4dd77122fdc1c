"""Imports, in the image's Python, everything a compiled pipeline spec names: each
step's entry module and executor class, the Trainer's run_fn and Transform's
preprocessing_fn (dotted-path parameters), the TFMA metric modules of the default
eval_config, and Beam's worker entry points (boot starts the SDK worker; a Flink /
Spark sidecar runs the worker pool).

    python tools/image/check_imports.py SPEC.json
"""

import importlib
import json
import re
import sys
from typing import Any, Dict, Iterator, Set

_DOTTED = re.compile(r'[A-Za-z_]\w*(\.[A-Za-z_]\w*)+')
_DOTTED_PARAMETERS = ('run_fn', 'preprocessing_fn')
BEAM_WORKER = ('apache_beam.runners.worker.sdk_worker_main',
               'apache_beam.runners.worker.worker_pool_main')


def referenced(spec: Dict[str, Any]) -> Set[str]:
  """Every module or module.attribute the spec's steps import."""
  names = set(BEAM_WORKER)
  for executor in spec['deploymentSpec']['executors'].values():
    container = executor.get('container', {})
    command, args = container.get('command', []), container.get('args', [])
    names.update(command[i + 1] for i, part in enumerate(command[:-1]) if part == '-m')
    names.update(args[i + 1] for i, part in enumerate(args[:-1])
                 if part == '--executor_class_path')
  for task in spec['root']['dag']['tasks'].values():
    for name, parameter in task.get('inputs', {}).get('parameters', {}).items():
      value = parameter.get('runtimeValue', {}).get('constant')
      if name in _DOTTED_PARAMETERS and isinstance(value, str) and _DOTTED.fullmatch(value):
        names.add(value)
  defaults = spec['root']['inputDefinitions']['parameters']
  eval_config = json.loads(defaults['eval_config']['defaultValue'])
  names.update(metric['module'] for metrics_spec in eval_config.get('metricsSpecs', [])
               for metric in metrics_spec.get('metrics', []) if metric.get('module'))
  return names


def load(name: str) -> Any:
  """The module `name`, or else the attribute its last part names in the module
  before it."""
  try:
    return importlib.import_module(name)
  except ModuleNotFoundError as error:
    if error.name != name:  # A module it imports is missing: a real failure.
      raise
    module, _, attribute = name.rpartition('.')
    return getattr(importlib.import_module(module), attribute)


def check(names: Set[str]) -> Iterator[str]:
  """Yields one line per name: 'ok NAME' or 'FAILED NAME: why'."""
  for name in sorted(names):
    try:
      load(name)
      yield f'ok {name}'
    except Exception as error:  # pylint: disable=broad-except
      yield f'FAILED {name}: {type(error).__name__}: {error}'


if __name__ == '__main__':
  with open(sys.argv[1]) as f:
    lines = list(check(referenced(json.load(f))))
  print('\n'.join(lines))
  sys.exit(1 if any(line.startswith('FAILED') for line in lines) else 0)
