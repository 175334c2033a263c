"""Turn the benchmark scripts' ``--json`` files into the documentation's figures (PNG + SVG) and tables (CSV).

    python benchmarks/plot.py benchmarks/results/*.json --out docs/_static/figures

Each input is the file one script wrote with ``--json PATH``; its ``benchmark`` field picks the figure:

* ``encode_throughput`` -> ``encode_throughput``: passages/s of every engine in the file (ours, the original
  FlagEmbedding 1.4.2, fastembed, infinity-emb, ...) at each ``max_length``;
* ``eval_beir_e2e`` -> ``scifact_e2e``: wall time of the BEIR command, ours against the original, by stage;
* ``search_methods`` -> ``search_methods``: nDCG@10 per search method (dense / BM25 / sparse / ColBERT / hybrid
  / all) per model on SciFact;
* ``serve_load`` -> ``serve_load``: server throughput and p99 latency by concurrent clients.

Other benchmarks (no figure) are skipped with a note. Every figure has a footer with the CPU model, its core
count, the load average and the date the numbers were measured; every run gives the same bytes. A file that is
not a benchmark results file, or lacks a field, stops the run with one ``error:`` line.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from FlagEmbedding.utils.errors import InputError  # noqa: E402
from FlagEmbedding.utils.files import atomic_write_text  # noqa: E402
from FlagEmbedding.utils.plot import draw_bars, new_figure, save_figure  # noqa: E402

logger = logging.getLogger("benchmarks.plot")

#: fields every ``--json`` file has (benchmarks/_common.py ``write_results``)
COMMON_FIELDS = ("benchmark", "command", "cpu_model", "cores", "load_average", "versions", "date", "results")
#: fields each row of a plotted benchmark must have
ROW_FIELDS = {
    "encode_throughput": ("kind", "max_length", "engine", "rate"),
    "eval_beir_e2e": ("engine", "best_wall_s", "ndcg_at_10", "stages_s"),
    "search_methods": ("model", "method", "ndcg_at_10"),
    "serve_load": ("engine", "clients", "passages_per_s"),
}
#: the stages of the BEIR command drawn as segments (the rest of the wall time is "other")
E2E_STAGES = ("startup", "load data", "load model", "encode corpus", "encode queries", "cache write", "search",
              "result files", "metrics", "summary")


def load(path: str) -> Dict[str, Any]:
    """One ``--json`` file, checked for the common fields and its benchmark's row fields."""
    try:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: not a readable JSON file ({error}); pass the files benchmark scripts wrote "
                         "with --json PATH") from None
    if not isinstance(document, dict):
        raise InputError(f"{path}: not a benchmark results file (a JSON object is expected)")
    hint = f"rerun {' '.join(document['command'][:2])} with --json" if isinstance(document.get("command"), list) \
        else "rerun the benchmark script with --json"
    for field in COMMON_FIELDS:
        if field not in document:
            raise InputError(f"{path}: the field {field!r} is missing; {hint} to write a complete file")
    for number, row in enumerate(document["results"]):
        for field in ROW_FIELDS.get(document["benchmark"], ()):
            if not isinstance(row, dict) or field not in row:
                raise InputError(f"{path}: results[{number}] lacks the field {field!r}; {hint} to write a complete "
                                 "file")
    return document


def footer(document: Dict[str, Any]) -> str:
    """``CPU model, N cores, load average L; measured DATE; benchmarks/<script>.py``."""
    script = document["command"][1] if len(document["command"]) > 1 else document["benchmark"]
    return (f"{document['cpu_model']}, {document['cores']} cores, load average {document['load_average'][0]:.1f} "
            f"(1 min, at the end); measured {document['date'][:10]}; {script}")


def table(rows: Sequence[Sequence[Any]]) -> str:
    """CSV text of ``rows`` (the first is the header; floats with 2 decimals; ``|`` escaped as ``\\|``: the
    Benchmarks page includes these files with ``csv-table``, whose cells are reStructuredText)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow([f"{v:.2f}" if isinstance(v, float) else ("" if v is None else str(v).replace("|", "\\|"))
                         for v in row])
    return out.getvalue()


def encode_throughput(document: Dict[str, Any], out: str) -> None:
    """Passages/s per engine (bars) at each max_length (groups), embedder rows."""
    rows = [row for row in document["results"] if row["kind"] == "embedder"]
    lengths = sorted({row["max_length"] for row in rows})
    engines = list(dict.fromkeys(row["engine"] for row in rows))
    rate = {(row["engine"], row["max_length"]): row["rate"] for row in rows}
    figure = new_figure()
    draw_bars(figure.axes[0], [f"{n} tokens" for n in lengths],
              {engine: [rate.get((engine, n)) for n in lengths] for engine in engines}, "passages / s",
              f"Encode throughput, all-MiniLM-L6-v2 on {rows[0].get('passages', '?')} SciFact passages "
              f"(batch {rows[0].get('batch_size', '?')})")
    write(figure, document, out, "encode_throughput", [["max_length", "engine", "passages/s", "ratio", "baseline",
                                                       "deviation"]] +
          [[row["max_length"], row["engine"], row["rate"], row.get("ratio"), row.get("baseline"),
            row.get("deviation")] for row in rows])


def scifact_e2e(document: Dict[str, Any], out: str) -> None:
    """Wall time of the BEIR command per engine, one horizontal bar stacked by stage."""
    rows = document["results"]
    axes_figure = new_figure(figsize=(9.0, 3.4))
    axes = axes_figure.axes[0]
    names = [row["engine"] for row in rows]
    left = [0.0] * len(rows)
    from matplotlib import colormaps

    for index, stage in enumerate(E2E_STAGES + ("other",)):
        widths = []
        for row in rows:
            stages = row["stages_s"]
            known = sum(stages.get(s, 0.0) for s in E2E_STAGES)
            widths.append(max(0.0, row["best_wall_s"] - known) if stage == "other" else stages.get(stage, 0.0))
        if any(w > 0.05 for w in widths):
            axes.barh(names, widths, left=left, label=stage, color=colormaps["tab20"](index))  # fixed per stage
        left = [a + b for a, b in zip(left, widths)]
    for y, row in enumerate(rows):
        axes.text(row["best_wall_s"], y, f" {row['best_wall_s']:.1f} s", va="center", fontsize=8)
    ratio = document.get("ratio_ours_over_original")
    axes.set_xlabel("seconds (fastest run)")
    axes.margins(x=0.12)
    axes.set_title(f"SciFact end to end, BEIR command ({document.get('documents', '?')} documents, "
                   f"{document.get('queries', '?')} queries)" + (f": ours / original = {ratio:.2f}" if ratio else ""),
                   fontsize=10)
    axes.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    stage_names = list(E2E_STAGES)
    write(axes_figure, document, out, "scifact_e2e",
          [["engine", "wall s", "nDCG@10"] + stage_names] +
          [[row["engine"], row["best_wall_s"], row["ndcg_at_10"]] + [row["stages_s"].get(s) for s in stage_names]
           for row in rows])


def search_methods(document: Dict[str, Any], out: str) -> None:
    """nDCG@10 per search method (groups) and model (bars)."""
    rows = document["results"]
    methods = list(dict.fromkeys(row["method"] for row in rows))
    models = list(dict.fromkeys(row["model"] for row in rows))
    value = {(row["model"], row["method"]): row["ndcg_at_10"] for row in rows}
    figure = new_figure()
    draw_bars(figure.axes[0], methods, {model: [value.get((model, m)) for m in methods] for model in models},
              "nDCG@10 (%)", "SciFact test: nDCG@10 per search method")
    write(figure, document, out, "search_methods", [["model", "method", "nDCG@10", "recall@100"]] +
          [[row["model"], row["method"], row["ndcg_at_10"], row.get("recall_at_100")] for row in rows])


def serve_load(document: Dict[str, Any], out: str) -> None:
    """Passages/s (left) and p99 latency (right) per server (bars) and client count (groups)."""
    rows = [row for row in document["results"] if row["clients"] is not None]
    baseline = next((row for row in document["results"] if row["clients"] is None), None)
    clients = sorted({row["clients"] for row in rows})
    engines = list(dict.fromkeys(row["engine"] for row in rows))
    by = {(row["engine"], row["clients"]): row for row in rows}
    figure = new_figure(1, 2, figsize=(9.0, 4.0))
    groups = [f"{n} client{'s' if n > 1 else ''}" for n in clients]
    draw_bars(figure.axes[0], groups, {e: [by[e, n]["passages_per_s"] if (e, n) in by else None for n in clients]
                                       for e in engines}, "passages / s", "Throughput")
    if baseline:
        figure.axes[0].axhline(baseline["passages_per_s"], color="0.3", linestyle="--", linewidth=1,
                               label="in-process encode")
        figure.axes[0].legend(fontsize=8)
    draw_bars(figure.axes[1], groups, {e: [by[e, n].get("p99_ms") if (e, n) in by else None for n in clients]
                                       for e in engines}, "p99 latency (ms)", "p99 latency", value_format="{:.0f}")
    figure.suptitle(f"OpenAI-compatible server, all-MiniLM-L6-v2, {document.get('requests', '?')} requests of "
                    f"{document.get('texts_per_request', '?')} SciFact passage(s)", fontsize=10)
    write(figure, document, out, "serve_load", [["engine", "clients", "passages/s", "requests/s", "p50 ms", "p99 ms",
                                                "ratio to in-process"]] +
          [[row["engine"], row["clients"], row["passages_per_s"], row.get("requests_per_s"), row.get("p50_ms"),
            row.get("p99_ms"), row.get("ratio")] for row in document["results"]])


def write(figure: Any, document: Dict[str, Any], out: str, name: str, rows: List[List[Any]]) -> None:
    """``<out>/<name>.png``, ``.svg`` and ``.csv`` (the figure's numbers)."""
    for suffix in (".png", ".svg"):
        save_figure(figure, os.path.join(out, name + suffix), footer(document))
    atomic_write_text(os.path.join(out, name + ".csv"), table(rows))
    logger.info("%s: %s.{png,svg,csv}", document["benchmark"], os.path.join(out, name))


FIGURES: Dict[str, Callable[[Dict[str, Any], str], None]] = {
    "encode_throughput": encode_throughput, "eval_beir_e2e": scifact_e2e, "search_methods": search_methods,
    "serve_load": serve_load,
}


def main(argv: Optional[Sequence[str]] = None) -> List[str]:
    """Draw the figure of every input file; returns the figure names written."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", help="JSON files written by the benchmark scripts' --json")
    parser.add_argument("--out", required=True, help="folder of the figures (e.g. docs/_static/figures)")
    args = parser.parse_args(argv)
    documents = [load(path) for path in args.inputs]  # every file checked before anything is written
    written = []
    for path, document in zip(args.inputs, documents):
        draw = FIGURES.get(document["benchmark"])
        if draw is None:
            logger.info("%s: no figure for the %s benchmark; skipped", path, document["benchmark"])
            continue
        draw(document, args.out)
        written.append(draw.__name__)
    print(f"{len(written)} figure(s) written to {args.out}: {', '.join(written) or 'none'}")
    return written


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        main()
    except InputError as error:
        sys.exit(f"error: {error}")
