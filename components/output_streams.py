"""The process's stdout and stderr pointed at a log file, file descriptors included.

Libraries print notices as they are imported (TensorFlow's C++ logging writes to
descriptor 2 directly; Google's client libraries warn about the Python version), so a
command that wants a quiet terminal diverts both descriptors before it imports them
and keeps streams on the real terminal for what people should read. The pipeline's
commands (pipeline/console.py) and the prediction server (serving/server.py) do.
"""

import os
import sys
import tempfile
from typing import Optional, TextIO


class DivertedOutput:
  """Descriptors 1 and 2 pointed at `path` (appended to), or at a new temporary file;
  `terminal` and `errors` write to where they pointed before."""

  def __init__(self, path: Optional[str] = None, prefix: str = 'arxiv-run-'):
    if path:
      handle, self.path = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644), path
    else:
      handle, self.path = tempfile.mkstemp(prefix=prefix, suffix='.log')
    sys.stdout.flush()
    sys.stderr.flush()
    self.terminal: TextIO = os.fdopen(os.dup(1), 'w', buffering=1, encoding='utf-8')
    self.errors: TextIO = os.fdopen(os.dup(2), 'w', buffering=1, encoding='utf-8')
    os.dup2(handle, 1)
    os.dup2(handle, 2)
    os.close(handle)
