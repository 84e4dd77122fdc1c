"""Draws the pipeline's DAG from its definition into docs/images/pipeline.svg.

The picture in the README is generated, not drawn by hand, so it cannot drift from
`pipeline.definition.create_pipeline`: `make pipeline-image` redraws it, and
tests/test_docs.py fails when the committed picture's components or edges differ
from the definition's.

    python tools/draw_pipeline.py                       # docs/images/pipeline.svg
    python tools/draw_pipeline.py --output /tmp/pipeline.svg

Each component is a box named by its id, placed in a row by its depth (the longest
chain of upstream nodes before it; a node without inputs sits just above its nearest
consumer), with an arrow from each upstream node. In the SVG each box is a group with
id `node:<component id>` and each arrow a group with id `edge:<from>:<to>`, so a test
can read the structure back without comparing bytes.
"""

import argparse
import os
import tempfile
from typing import Dict, List, Sequence, Tuple

import matplotlib
from matplotlib.figure import Figure  # No pyplot: its global backend is left alone.

REPOSITORY_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUTPUT = os.path.join(REPOSITORY_ROOT, 'docs', 'images', 'pipeline.svg')

# Labels stay text (searchable, and comparable across machines whose fonts differ);
# a fixed salt and no date make the same DAG give the same bytes on one machine.
SVG_STYLE = {'svg.fonttype': 'none', 'svg.hashsalt': 'arxiv-subject-areas-pipeline'}

# Rows are one data unit apart, ROW_INCHES on the page; columns COLUMN_WIDTH apart.
ROW_INCHES = 0.65
COLUMN_WIDTH = 3.2

Edge = Tuple[str, str]


def pipeline_graph() -> Tuple[List[str], List[Edge]]:
  """The component ids of the default pipeline, in its order, and its edges."""
  # pylint: disable=import-outside-toplevel
  from pipeline.config import PipelineConfig
  from pipeline.definition import create_pipeline
  with tempfile.TemporaryDirectory() as output_root:
    pipeline = create_pipeline(PipelineConfig(output_root=output_root))
  nodes = [component.id for component in pipeline.components]
  edges = sorted((upstream.id, component.id) for component in pipeline.components
                 for upstream in component.upstream_nodes)
  return nodes, edges


def longest_chains(nodes: Sequence[str], edges: Sequence[Edge]) -> Dict[str, int]:
  """How many nodes each node has before it on its longest upstream chain."""
  chain: Dict[str, int] = {}
  for node in nodes:  # A pipeline lists its components in topological order.
    chain[node] = 1 + max((chain[a] for a, b in edges if b == node), default=-1)
  return chain


def layout(nodes: Sequence[str], edges: Sequence[Edge]) -> Dict[str, Tuple[float, float]]:
  """(x, y) of each node. Rows top to bottom by the longest upstream chain (a node
  without inputs just above its nearest consumer); the DAG's longest chain straight down
  the middle, the other nodes of a row beside it (right, then left)."""
  chain = longest_chains(nodes, edges)
  upstream = {node: [a for a, b in edges if b == node] for node in nodes}
  downstream = {node: [b for a, b in edges if a == node] for node in nodes}
  row_of = {node: (min(chain[b] for b in downstream[node]) - 1
                   if downstream[node] and not upstream[node] else chain[node])
            for node in nodes}
  node = max(nodes, key=lambda n: chain[n])
  spine = {node}
  while upstream[node]:
    node = next(a for a in nodes if a in upstream[node] and chain[a] == chain[node] - 1)
    spine.add(node)
  rows: Dict[int, List[str]] = {}
  for node in sorted(nodes, key=lambda n: n not in spine):  # Stable: pipeline order.
    rows.setdefault(row_of[node], []).append(node)
  position = {}
  for row, row_nodes in rows.items():
    for index, node in enumerate(row_nodes):
      # Columns 0, +1, -1, +2, ...; a row without a spine node starts at +1.
      column = index + (row_nodes[0] not in spine)
      offset = (column + 1) // 2 * (1 if column % 2 else -1)
      position[node] = (offset * COLUMN_WIDTH, -row)
  return position


def draw(nodes: Sequence[str], edges: Sequence[Edge], output: str) -> None:
  """Writes the DAG as an SVG file at `output`."""
  position = layout(nodes, edges)
  rows = 1 + max(-y for _, y in position.values())
  with matplotlib.rc_context(SVG_STYLE):
    figure = Figure(figsize=(7, ROW_INCHES * rows))
    axes = figure.add_subplot()
    boxes = {}
    for node in nodes:
      x, y = position[node]
      boxes[node] = axes.text(
          x, y, node, ha='center', va='center', fontsize=10, family='DejaVu Sans',
          gid=f'node:{node}', zorder=2,
          bbox=dict(boxstyle='round,pad=0.45', facecolor='#e8f0fe', edgecolor='#3b6db3'))
    for source, target in edges:
      (x0, y0), (x1, y1) = position[source], position[target]
      # An arrow past rows in between bends outwards (the spine's to the left), clear
      # of their boxes: arc3's curve reaches rad x length / 2 from the straight line,
      # here past a box's half width, more for each row skipped so that arcs nest.
      skipped_rows = y0 - y1 - 1
      bulge_inches = 0.85 + 0.2 * (skipped_rows - 1)
      bend = (2 * bulge_inches / ((y0 - y1) * ROW_INCHES)
              if skipped_rows > 0 and x0 == x1 else 0.0) * (-1 if x0 > 0 else 1)
      arrow = axes.annotate(
          # Drawn after the boxes (placed as they draw), to end at their edges.
          '', xy=(x1, y1), xytext=(x0, y0), zorder=3,
          arrowprops=dict(arrowstyle='-|>', color='#555555', linewidth=1.0,
                          patchA=boxes[source].get_bbox_patch(),
                          patchB=boxes[target].get_bbox_patch(), shrinkA=1, shrinkB=1,
                          connectionstyle=f'arc3,rad={bend}'))
      arrow.arrow_patch.set_gid(f'edge:{source}:{target}')
    xs = [x for x, _ in position.values()]
    axes.set_xlim(min(xs) - COLUMN_WIDTH * 0.75, max(xs) + COLUMN_WIDTH * 0.75)
    axes.set_ylim(-(rows - 1) - 0.5, 0.5)
    axes.set_axis_off()
    figure.subplots_adjust(left=0, right=1, bottom=0, top=1)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    figure.savefig(output, format='svg', metadata={'Date': None})


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--output', default=DEFAULT_OUTPUT, help='the SVG file to write')
  args = parser.parse_args()
  draw(*pipeline_graph(), args.output)
  print(args.output)


if __name__ == '__main__':
  main()
