"""What a person sees while a run works: one line per component, live progress, a log.

Quiet by default. `divert_output()` (called by the command-line entry points before
TensorFlow, Beam and Google's client libraries are imported, so that their import-time
notices are caught too) points the process's stdout and stderr, file descriptors
included (TensorFlow's C++ logging writes to descriptor 2 directly), at a log file,
and keeps the terminal for `terminal()`. `ComponentProgress` listens to the TFX
runner's "Component X is running / is finished" records and to the `progress`
records components log (the Trainer's epochs), and shows them: a spinner with the
elapsed time while a component works, then one line with its state, wall time and
key figure. `--verbose` keeps everything on the terminal, as it comes.
"""

import argparse
import logging
import os
import shutil
import sys
import time
import traceback
from typing import Callable, Optional, TextIO

from absl import logging as absl_logging
import rich.console
from rich.markup import escape
import rich.progress

from components.features import PROGRESS_LOGGER
from components.output_streams import DivertedOutput

_RUNNING, _FINISHED = 'Component %s is running.', 'Component %s is finished.'


_diverted: Optional[DivertedOutput] = None


def divert_output(verbose: bool, keep_prints: bool = False) -> None:
  """Unless `verbose`, sends stdout, stderr and Python's warnings to a log file.

  With `keep_prints`, Python's own prints (sys.stdout) still reach the terminal: for
  tools whose output is what they print (benchmarks, predict.py), not a training run's
  chatter."""
  global _diverted
  if verbose or _diverted is not None:
    return
  _diverted = DivertedOutput()
  logging.captureWarnings(True)
  if keep_prints:
    sys.stdout = _diverted.terminal


class _Redaction(logging.Filter):
  """Replaces a secret in a record's message before any handler sees it."""

  def __init__(self, secret: str):
    super().__init__()
    self.secret = secret

  def filter(self, record: logging.LogRecord) -> bool:
    message = record.getMessage()
    if self.secret in message:
      record.msg, record.args = message.replace(self.secret, '<redacted>'), ()
    return True


def keep_out_of_logs(secret: str) -> None:
  """No log line of this process shows `secret`, in the terminal or the run's log.

  TFX's LocalDagRunner logs its ML Metadata connection config at INFO, a MySQL
  password included, and the run keeps that log under <output root>/logs/. Its records
  (and TensorFlow's, Beam's) go through absl's logger or the root logger, where a
  filter sees each before its handlers do.
  """
  if secret:
    for logger in (logging.getLogger(), logging.getLogger('absl')):
      logger.addFilter(_Redaction(secret))


def terminal() -> TextIO:
  """Where a person reads: the real stdout even while output is diverted."""
  return _diverted.terminal if _diverted else sys.stdout


def terminal_errors() -> TextIO:
  """The real stderr even while output is diverted: for errors."""
  return _diverted.errors if _diverted else sys.stderr


def keep_log(path: str) -> Optional[str]:
  """Moves the diverted log to `path` (its directory is made); None when not diverted.

  Output written after this goes to the moved file too (the descriptors follow it
  when it stays on its file system; else to the copy's original, which is removed)."""
  if _diverted is None:
    return None
  os.makedirs(os.path.dirname(path), exist_ok=True)
  sys.stdout.flush()
  sys.stderr.flush()
  shutil.move(_diverted.path, path)
  _diverted.path = path
  return path


def keep_tool_log(output_root: str, tool: str) -> Optional[str]:
  """Moves a tool's diverted log to <output root>/logs/<tool>-<time>.log."""
  return keep_log(os.path.join(output_root, 'logs',
                               f'{tool}-{time.strftime("%Y-%m-%dT%H-%M-%S")}.log'))


class ArgumentParser(argparse.ArgumentParser):
  """argparse whose usage, help and errors reach the terminal while output is diverted."""

  def _print_message(self, message, file=None):
    if message:
      (terminal() if file in (None, sys.stdout) else terminal_errors()).write(message)


def run_tool(main: Callable[[], int], output_root: str, tool: str,
             show_log: bool = True) -> int:
  """Runs a command-line tool's `main` with its output diverted: on success the log
  is kept under `output_root` (its path printed with `show_log`); on an error, the
  error's last line and the log's path, not a traceback."""
  try:
    status = main()
  except Exception as error:  # pylint: disable=broad-except
    traceback.print_exc()  # Into the log.
    path = keep_tool_log(output_root, tool)
    if path is None:
      raise
    reason = f'{type(error).__name__}: {error}'.splitlines()[0]
    terminal_errors().write(f'{tool} failed: {reason}\n  log (the whole error): {path}\n')
    return 1
  path = keep_tool_log(output_root, tool)
  if path and show_log:
    terminal().write(f'log (everything else): {path}\n')
  return status


def make_console(errors: bool = False) -> rich.console.Console:
  """A console on the terminal's stdout, or its stderr with `errors`."""
  return rich.console.Console(file=terminal_errors() if errors else terminal(),
                              highlight=False, soft_wrap=True)


class ComponentProgress(logging.Handler):
  """Shows the TFX runner's components as they start and end (see the module doc).

  `describe(node)` gives a finished component's line: state, wall time, key figure.
  """

  def __init__(self, console: rich.console.Console, describe: Callable[[str], str]):
    super().__init__(logging.INFO)
    self.console = console
    self.describe = describe
    self.running: Optional[str] = None
    self._started = time.monotonic()  # Of the running component, else of the run.
    self._live = rich.progress.Progress(
        rich.progress.SpinnerColumn(), rich.progress.TextColumn('{task.description}'),
        rich.progress.TimeElapsedColumn(), console=console, transient=True)
    self._task = None

  def __enter__(self) -> 'ComponentProgress':
    # The runner's records are absl INFO. absl's verbosity, not the logger's level:
    # TensorFlow sets and restores the verbosity around each save.
    absl_logging.set_verbosity(absl_logging.INFO)
    logging.getLogger(PROGRESS_LOGGER).setLevel(logging.INFO)
    for name in ('absl', PROGRESS_LOGGER):
      logging.getLogger(name).addHandler(self)
    self._live.start()
    return self

  def __exit__(self, *exc_info) -> None:
    self._live.stop()
    for name in ('absl', PROGRESS_LOGGER):
      logging.getLogger(name).removeHandler(self)

  def emit(self, record: logging.LogRecord) -> None:
    try:
      if record.msg == _RUNNING and record.args:
        self._start(str(record.args[0]))
      elif record.msg == _FINISHED and record.args:
        self._finish(str(record.args[0]))
      elif getattr(record, 'progress', False) and self._task is not None:
        self._live.update(self._task,
                          description=escape(f'{self.running}: {record.getMessage()}'))
    except Exception:  # pylint: disable=broad-except
      self.handleError(record)  # A display problem must not stop the run.

  def _start(self, node: str) -> None:
    self.running, self._started = node, time.monotonic()
    self._task = self._live.add_task(escape(node), total=None)

  def _finish(self, node: str) -> None:
    if self._task is not None:
      self._live.remove_task(self._task)
      self._task = None
    self.running = None
    self.console.print(f'  [green]✓[/green] {escape(self.describe(node))}')

  def elapsed(self) -> float:
    return time.monotonic() - self._started
