"""The error that stops a run because of its data, with a message for the user."""


class DataError(ValueError):
  """The data cannot make a meaningful model (unreadable input, nothing to learn).

  Runners print its message, which names the file, row or field, without a trace.
  """
