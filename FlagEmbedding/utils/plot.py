"""Grouped bar charts written as PNG or SVG (matplotlib, imported lazily: ``pip install 'FlagEmbedding[eval]'``).

:func:`bar_chart` draws one group of bars per category and one bar per series, reproducibly (fixed size and dpi,
no dates or versions in the file, a fixed SVG id salt), and writes it atomically; the evaluation CLIs' ``--plot``
(:func:`plot_eval_metric`) and ``benchmarks/plot.py`` use it.
"""
from __future__ import annotations

import math
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.files import atomic_path

#: file suffixes :func:`bar_chart` writes, and the matplotlib format of each
FORMATS = {".png": "png", ".svg": "svg"}
#: figure size (inches) and resolution of every chart
FIGSIZE = (8.0, 4.5)
DPI = 100


def plot_format(path: str, flag: str = "--plot") -> str:
    """The image format of ``path`` by its suffix (``png`` / ``svg``); checks that matplotlib imports.

    Raises :class:`InputError` naming ``flag`` for another suffix or a missing matplotlib."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in FORMATS:
        raise InputError(f"{flag} {path}: the figure's file name must end in .png or .svg; pass e.g. "
                         f"{flag} eval_results.png")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError(f"{flag} needs matplotlib, which is not installed; pip install 'FlagEmbedding[eval]' "
                         "(or pip install matplotlib), or leave out the flag") from None
    return FORMATS[suffix]


def new_figure(rows: int = 1, columns: int = 1, figsize: Tuple[float, float] = FIGSIZE) -> Any:
    """A matplotlib ``Figure`` (no pyplot: the caller's backend is untouched) with ``rows x columns`` axes."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, dpi=DPI, layout="constrained")
    figure.subplots(rows, columns, squeeze=False)
    return figure


def save_figure(figure: Any, path: str, footer: Optional[str] = None) -> None:
    """Write ``figure`` to ``path`` (PNG or SVG by suffix) atomically and byte-for-byte reproducibly, with
    ``footer`` (e.g. the CPU model and date) in small grey type at its bottom."""
    import matplotlib

    kind = plot_format(path)
    if footer:
        figure.supxlabel(footer, x=0.005, ha="left", fontsize=7, color="0.4")  # constrained layout keeps room
    metadata: Dict[str, Any] = {"Software": None} if kind == "png" else {"Date": None, "Creator": None}
    with matplotlib.rc_context({"svg.hashsalt": "FlagEmbedding", "svg.fonttype": "path"}):
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format=kind, dpi=DPI, metadata=metadata)


def draw_bars(axes: Any, groups: Sequence[str], series: Mapping[str, Sequence[Optional[float]]],
              ylabel: str, title: str = "", value_format: str = "{:.1f}") -> None:
    """One group of bars per entry of ``groups`` and one bar per ``series`` (``{label: value per group}``;
    None leaves a gap), each bar labelled with its value."""
    width = 0.8 / max(1, len(series))
    for i, (label, values) in enumerate(series.items()):
        positions = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        shown = [math.nan if v is None else float(v) for v in values]
        bars = axes.bar(positions, shown, width, label=label)
        axes.bar_label(bars, labels=["" if math.isnan(v) else value_format.format(v) for v in shown], fontsize=7,
                       padding=1)
    axes.set_xticks(range(len(groups)), list(groups), rotation=20 if len(groups) > 4 else 0,
                    ha="right" if len(groups) > 4 else "center")
    axes.set_ylabel(ylabel)
    if title:
        axes.set_title(title, fontsize=10)
    axes.margins(y=0.15)
    if len(series) > 1:
        axes.legend(fontsize=8)


def bar_chart(path: str, groups: Sequence[str], series: Mapping[str, Sequence[Optional[float]]], ylabel: str,
              title: str = "", footer: Optional[str] = None, value_format: str = "{:.1f}") -> None:
    """Write a grouped bar chart (see :func:`draw_bars`) to ``path`` (``.png`` or ``.svg``)."""
    figure = new_figure()
    draw_bars(figure.axes[0], groups, series, ylabel, title, value_format)
    save_figure(figure, path, footer)


def plot_eval_metric(eval_results: Mapping[str, Mapping[str, Mapping[str, Mapping[str, float]]]], path: str,
                     metric: str) -> Dict[str, Dict[str, Optional[float]]]:
    """The evaluation summary's ``metric`` as a chart at ``path``: one bar group per dataset/split column, one
    bar per ``model / reranker`` (the model folder names carry the search method, e.g. ``model@bm25``), values
    in percent. Returns the plotted values, ``{model / reranker: {column: percent or None}}``."""
    plot_format(path)
    rows = [(f"{model} / {reranker}", results) for model in sorted(eval_results)
            for reranker, results in sorted(eval_results[model].items())]
    columns = sorted({column for _, results in rows for column in results})
    if not rows:
        raise InputError(f"--plot {path}: there are no evaluation results to plot")
    plotted: Dict[str, Dict[str, Optional[float]]] = {}
    for label, results in rows:
        values = {column: results.get(column, {}).get(metric) for column in columns}
        plotted[label] = {column: None if v is None else float(v) * 100 for column, v in values.items()}
    series: Dict[str, List[Optional[float]]] = {label: list(values.values()) for label, values in plotted.items()}
    title = metric if len(series) > 1 else f"{metric}: {next(iter(series))}"
    bar_chart(path, columns, series, f"{metric} (%)", title=title, value_format="{:.2f}")
    return plotted
