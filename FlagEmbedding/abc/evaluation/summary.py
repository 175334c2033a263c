"""Summaries of evaluation results: markdown tables (one per metric) or JSON."""
from __future__ import annotations

from typing import Any, List, Mapping, Optional, Sequence

from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.files import atomic_write_json, atomic_write_text


def _format_cell(value: Optional[float], bold: bool) -> str:
    if value is None:
        return "-"
    text = f"{value * 100:.3f}"
    return f"**{text}**" if bold else text


def summary_markdown(eval_results: Mapping[str, Mapping[str, Mapping[str, Mapping[str, float]]]],
                     metrics: Sequence[str]) -> str:
    """Markdown tables (one per metric) of ``{model: {reranker: {column: {metric: value}}}}``.

    Rows are sorted by model then reranker, columns sorted; missing values are ``-``; ``average`` is the
    row mean (``-`` if any value is missing); every maximal cell of a column is bold.
    """
    rows = [(model, reranker, results) for model in sorted(eval_results)
            for reranker, results in sorted(eval_results[model].items())]
    columns = sorted({column for _, _, results in rows for column in results})
    lines: List[str] = []
    for metric in metrics:
        table: List[List[Optional[float]]] = []
        for _, _, results in rows:
            values = [results.get(column, {}).get(metric) for column in columns]
            known = [v for v in values if v is not None]
            average = None if (not values or len(known) != len(values)) else sum(known) / len(values)
            table.append([average] + values)
        best = []
        for j in range(len(columns) + 1):
            present = [round(value * 100, 3) for value in (row[j] for row in table) if value is not None]
            best.append(max(present) if present else None)
        lines.append(f"## {metric}")
        lines.append("")
        lines.append("| " + " | ".join(["Model", "Reranker", "average"] + columns) + " |")
        lines.append("| :---- | :---- | " + " | ".join([":---:"] * (len(columns) + 1)) + " |")
        for (model, reranker, _), row in zip(rows, table):
            cells = "".join(
                _format_cell(value, value is not None and round(value * 100, 3) == best[j]) + " | "
                for j, value in enumerate(row)
            )
            lines.append(f"| {model} | {reranker} | {cells}")
        lines.append("")
    return "\n".join(lines) + ("\n" if lines else "")


def write_summary(eval_results: Mapping[str, Any], output_method: str, output_path: str,
                  metrics: Sequence[str]) -> None:
    """Write the summary as ``json`` (indent 4, every metric) or ``markdown`` (see :func:`summary_markdown`)."""
    if output_method == "json":
        atomic_write_json(output_path, eval_results, indent=4)
    elif output_method == "markdown":
        atomic_write_text(output_path, summary_markdown(eval_results, metrics))
    else:
        raise InputError(f"Invalid output method: {output_method}. Available methods: ['json', 'markdown']")
