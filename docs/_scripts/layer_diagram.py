"""The layer diagram of docs/architecture.rst, drawn from the package's imports (run by docs/conf.py at build time).

Every ``FlagEmbedding/**/*.py`` is parsed (``ast``); each module-level ``import FlagEmbedding.<x>...`` /
``from FlagEmbedding.<x>... import`` (outside ``if TYPE_CHECKING:`` blocks and function bodies, as the layer rule
counts them) is an edge from the importing module's package to ``<x>``. Package ``__init__`` faces are skipped:
they only forward names lazily. The figure is a plain SVG (no drawing library needed): one row per layer, lowest
at the bottom, an arrow per package pair labelled with its number of import lines; an arrow pointing up a layer
is drawn red (there should be none).

``python docs/_scripts/layer_diagram.py OUT.svg`` writes the figure; :func:`import_edges` is the data.
"""
from __future__ import annotations

import ast
import os
import sys
from collections import Counter
from typing import Dict, Iterator, List, Optional, Tuple
from xml.sax.saxutils import escape

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE = os.path.join(REPO, "FlagEmbedding")

#: layers bottom-up; a package may import its own row and the rows below (top-level modules sit with utils)
LAYERS: List[List[str]] = [
    ["utils", "compat", "module_aliases"],
    ["backends", "retrieval"],
    ["abc"],
    ["inference", "evaluation", "finetune"],
    ["serve"],
]
ROLE = {
    "utils": "helpers, no package imports", "compat": "1.4.2 method names (mixins)",
    "module_aliases": "1.4.2 module paths (alias table)", "backends": "ONNX / OpenVINO / oneDNN / CPU probes",
    "retrieval": "indexes, cache, search, metrics, readers", "abc": "contracts (abstract classes)",
    "inference": "embedders, rerankers, registries", "evaluation": "benchmarks (python -m)",
    "finetune": "trainable kinds (torchrun -m)", "serve": "HTTP server",
}


def _module_level_imports(body: List[ast.stmt]) -> Iterator[str]:
    for node in body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
            continue
        if isinstance(node, (ast.If, ast.Try)):
            yield from _module_level_imports(node.body)
            yield from _module_level_imports(node.orelse)
            for handler in getattr(node, "handlers", []):
                yield from _module_level_imports(handler.body)
            yield from _module_level_imports(getattr(node, "finalbody", []))
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _package_of(module: str) -> Optional[str]:
    """``FlagEmbedding.abc.x`` -> ``abc``; ``None`` outside the package or for the package itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "FlagEmbedding" else None


def import_edges(package_dir: str = PACKAGE) -> Tuple[List[str], Counter]:
    """``(packages, {(importer, imported): import lines})`` of module-level imports between top-level packages."""
    packages = sorted(name[:-3] if name.endswith(".py") else name for name in os.listdir(package_dir)
                      if not name.startswith(("_", ".")) and (name.endswith(".py") or
                                                              os.path.isfile(os.path.join(package_dir, name,
                                                                                          "__init__.py"))))
    edges: Counter = Counter()
    for root, _, files in os.walk(package_dir):
        for name in files:
            if not name.endswith(".py") or name == "__init__.py":
                continue
            path = os.path.join(root, name)
            module = "FlagEmbedding." + os.path.relpath(path, package_dir)[:-3].replace(os.sep, ".")
            source = _package_of(module)
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read(), path)
            for target in _module_level_imports(tree.body):
                imported = _package_of(target)
                if source and imported and imported != source and imported in packages:
                    edges[(source, imported)] += 1
    return packages, edges


def _rows(packages: List[str]) -> List[List[str]]:
    placed = {name for row in LAYERS for name in row}
    rows = [[name for name in row if name in packages] for row in LAYERS]
    extra = [name for name in packages if name not in placed]
    return ([extra] if extra else []) + [row for row in rows if row]  # unknown packages: a row of their own


def render_svg(packages: List[str], edges: Counter) -> str:
    """The figure as SVG text."""
    rows = _rows(packages)
    box_w, box_h, gap_x, gap_y, margin = 210, 46, 60, 70, 20
    width = max(len(row) for row in rows) * (box_w + gap_x) - gap_x + 2 * margin
    height = len(rows) * (box_h + gap_y) - gap_y + 2 * margin
    layer = {name: index for index, row in enumerate(rows) for name in row}
    centre: Dict[str, Tuple[float, float]] = {}
    for index, row in enumerate(rows):
        y = height - margin - box_h / 2 - index * (box_h + gap_y)
        row_w = len(row) * (box_w + gap_x) - gap_x
        for column, name in enumerate(row):
            centre[name] = ((width - row_w) / 2 + column * (box_w + gap_x) + box_w / 2, y)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="context-stroke"/></marker></defs>',
           f"<title>Module-level imports between the packages of FlagEmbedding ({sum(edges.values())} lines)</title>"]
    for (source, target), count in sorted(edges.items()):
        (x1, y1), (x2, y2) = centre[source], centre[target]
        upward = layer[target] > layer[source]
        same_row = layer[target] == layer[source]
        colour = "#c62828" if upward else ("#6a6a6a" if same_row else "#1f5fa8")
        dy = box_h / 2 if y2 > y1 else -box_h / 2
        start, end = (x1, y1 + dy), (x2, y2 - dy)
        if same_row:
            start, end = (x1 + (box_w / 2 if x2 > x1 else -box_w / 2), y1), \
                         (x2 - (box_w / 2 if x2 > x1 else -box_w / 2), y2)
        out.append(f'<line x1="{start[0]:.0f}" y1="{start[1]:.0f}" x2="{end[0]:.0f}" y2="{end[1]:.0f}" '
                   f'stroke="{colour}" stroke-width="1.3" marker-end="url(#arrow)">'
                   f"<title>{source} imports {target}: {count} line(s)</title></line>")
        mx, my = start[0] + (end[0] - start[0]) * 0.6, start[1] + (end[1] - start[1]) * 0.6
        out.append(f'<text x="{mx:.0f}" y="{my:.0f}" fill="{colour}" text-anchor="middle" '
                   f'paint-order="stroke" stroke="white" stroke-width="3">{count}</text>')
    for name, (x, y) in centre.items():
        out.append(f'<rect x="{x - box_w / 2:.0f}" y="{y - box_h / 2:.0f}" width="{box_w}" height="{box_h}" rx="6" '
                   'fill="#f4f7fb" stroke="#33475b"/>')
        out.append(f'<text x="{x:.0f}" y="{y - 4:.0f}" text-anchor="middle" font-weight="bold">{escape(name)}</text>')
        out.append(f'<text x="{x:.0f}" y="{y + 13:.0f}" text-anchor="middle" font-size="10" fill="#444">'
                   f"{escape(ROLE.get(name, 'not in a layer yet'))}</text>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write(path: str, package_dir: str = PACKAGE) -> Tuple[List[str], Counter]:
    """Write the figure to ``path`` (only when it changed, so Sphinx rebuilds no more than needed)."""
    packages, edges = import_edges(package_dir)
    svg = render_svg(packages, edges)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if not os.path.exists(path) or open(path, encoding="utf-8").read() != svg:
        with open(path, "w", encoding="utf-8") as f:
            f.write(svg)
    return packages, edges


if __name__ == "__main__":
    write(sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "docs", "_generated", "layers.svg"))
