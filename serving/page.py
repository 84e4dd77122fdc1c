"""The submission-portal page: paste a title and an abstract, see suggested subject areas.

One self-contained HTML document (no external assets) that calls the server's own
TF Serving predict endpoint.
"""

import json

from serving.categories import CATEGORY_NAMES

_SHOWN = 8  # Labels listed, most probable first.

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Suggest arXiv subject areas</title>
<link rel="icon" href="data:,">
<style>
  body { font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem;
         color: #1f2328; }
  label { display: block; font-weight: 600; margin-top: 1rem; }
  input, textarea { width: 100%; box-sizing: border-box; font: inherit; padding: .5rem; }
  textarea { min-height: 12rem; }
  button { margin-top: 1rem; font: inherit; padding: .5rem 1.5rem; cursor: pointer; }
  table { border-collapse: collapse; width: 100%; margin-top: 1.5rem; }
  th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid #d0d7de; }
  .bar { background: #0969da; height: .7rem; border-radius: 2px; }
  .passes { font-weight: 600; color: #1a7f37; }
  .below { color: #656d76; }
  #error { color: #cf222e; margin-top: 1rem; white-space: pre-wrap; }
  #summary { margin-top: 1.5rem; font-size: 1.1rem; }
</style>
</head>
<body>
<h1>Suggest arXiv subject areas</h1>
<p>Paste your paper's title and abstract; the model proposes the arXiv categories it belongs
to. Categories whose probability reaches the model's threshold for them are suggested.</p>
<form id="paper">
  <label for="title">Title</label>
  <input id="title" name="title" autocomplete="off">
  <label for="abstract">Abstract</label>
  <textarea id="abstract" name="abstract" required></textarea>
  <button id="suggest" type="submit">Suggest subject areas</button>
</form>
<div id="error" role="alert"></div>
<div id="summary"></div>
<table id="results" hidden>
  <thead><tr><th>Category</th><th>Name</th><th>Probability</th><th></th><th>Suggested</th></tr></thead>
  <tbody></tbody>
</table>
<script>
const MODEL = __MODEL__;
const NAMES = __NAMES__;
const SHOWN = __SHOWN__;
const form = document.getElementById('paper');
const errorBox = document.getElementById('error');
const summary = document.getElementById('summary');
const table = document.getElementById('results');

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function show(prediction) {
  const order = prediction.label_names.map((label, i) => i)
      .sort((a, b) => prediction.probabilities[b] - prediction.probabilities[a]);
  const suggested = order.filter(i => prediction.predicted[i]);
  summary.textContent = suggested.length
      ? 'Suggested: ' + suggested.map(i => prediction.label_names[i] + ' (' +
            (NAMES[prediction.label_names[i]] || prediction.label_names[i]) + ')').join(', ')
      : 'No category reaches its threshold; the most likely ones are listed below.';
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const i of order.slice(0, Math.max(SHOWN, suggested.length))) {
    const label = prediction.label_names[i];
    const probability = prediction.probabilities[i];
    const passes = prediction.predicted[i] === 1;
    const row = body.insertRow();
    row.className = passes ? 'passes' : 'below';
    row.dataset.label = label;
    cell(row, label);
    cell(row, NAMES[label] || label);
    cell(row, probability.toFixed(3));
    const bar = document.createElement('div');
    bar.className = 'bar';
    bar.style.width = Math.round(probability * 100) + '%';
    row.insertCell().appendChild(bar);
    cell(row, passes ? 'yes' : 'below threshold');
  }
  table.hidden = false;
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  errorBox.textContent = '';
  const instance = {abstract: document.getElementById('abstract').value,
                    title: document.getElementById('title').value};
  try {
    const response = await fetch('/v1/models/' + encodeURIComponent(MODEL) + ':predict', {
      method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({instances: [instance]})});
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || response.statusText);
    show(answer.predictions[0]);
  } catch (error) {
    table.hidden = true;
    summary.textContent = '';
    errorBox.textContent = 'Could not get suggestions: ' + error.message;
  }
});
</script>
</body>
</html>
"""


def _script_json(value) -> str:
  """JSON that cannot close the <script> element it is written into."""
  return json.dumps(value).replace('<', '\\u003c')


def render(model_name: str) -> bytes:
  return (_TEMPLATE.replace('__MODEL__', _script_json(model_name))
          .replace('__NAMES__', _script_json(CATEGORY_NAMES))
          .replace('__SHOWN__', str(_SHOWN))).encode('utf-8')
