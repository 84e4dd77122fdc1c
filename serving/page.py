"""The submission-portal page: paste a title and an abstract, see suggested subject areas.

One self-contained HTML document (no external assets), rendered from
templates/portal.html. It calls the server's own TF Serving predict endpoint with the
model's `explain` signature, so that beside each suggestion it can show the words
behind it, and warn when the text is too short or unlike what the model knows.
"""

import functools
import os

import jinja2

from serving.categories import display_names

SHOWN = 8  # Categories listed, most probable first (more when more are suggested).


@functools.lru_cache(maxsize=None)
def _template() -> jinja2.Template:
  environment = jinja2.Environment(
      loader=jinja2.FileSystemLoader(os.path.join(os.path.dirname(__file__), 'templates')),
      autoescape=True, undefined=jinja2.StrictUndefined)
  # `tojson` escapes <, > and & too, so no value can close the <script> it sits in.
  return environment.get_template('portal.html')


def render(model_name: str, nonce: str, max_chars: int) -> bytes:
  """The page for `model_name`; `nonce` admits its inline script and style (the
  server's Content-Security-Policy allows nothing else)."""
  return _template().render(model_name=model_name, names=display_names(), shown=SHOWN,
                            nonce=nonce, max_chars=max_chars).encode('utf-8')
