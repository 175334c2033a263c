"""nDCG@10 and recall@100 of every search method on SciFact test, through the documented BEIR command.

Runs ``python -m FlagEmbedding.evaluation.beir`` (256 tokens, mean pooling, exact search) once per method into
``--work_dir``: with ``--model`` (default all-MiniLM-L6-v2) ``dense``, ``bm25`` and the dense + BM25 hybrids
(weighted and RRF); with ``--m3_model`` (an M3 model, e.g. the MiniLM fine-tuned by
``examples/finetune/scifact/run.py --kind m3``) also ``dense``, ``sparse``, ``colbert``, ``hybrid`` (dense +
sparse) and ``all``. The corpus is encoded once per model into ``--corpus_embd_save_dir`` and reused by every
later method (and by later runs: point it at an existing cache of the same model and settings to skip the
encode). ``--import_summary MODEL METHOD PATH`` adds the row of a BEIR CLI run made elsewhere, read from the
JSON summary it wrote (``--eval_output_method json``; the same dataset, split and metrics), with its path as the
row's ``source``. Prints one line per run; ``--json`` writes the rows ``benchmarks/plot.py`` draws as
``search_methods``.

    python benchmarks/search_methods.py --work_dir /tmp/sm --corpus_embd_save_dir /tmp/sm/embd \
        [--m3_model /tmp/m3ft/minilm_scifact_m3] --json benchmarks/results/search_methods.json
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _common import REPO, SCIFACT, add_json_argument, cpu_model, minilm_path, write_results  # noqa: E402

#: method label -> extra BEIR flags, for a plain embedder and for an M3 model
PLAIN_METHODS: Dict[str, List[str]] = {
    "dense": [],
    "BM25": ["--search_method", "bm25"],
    "hybrid dense+BM25": ["--search_method", "hybrid", "--hybrid_methods", "dense", "bm25"],
    "hybrid dense+BM25 (RRF)": ["--search_method", "hybrid", "--hybrid_methods", "dense", "bm25", "--fusion", "rrf"],
}
M3_METHODS: Dict[str, List[str]] = {
    "dense": [],
    "sparse": ["--search_method", "sparse"],
    "ColBERT": ["--search_method", "colbert"],
    "hybrid dense+sparse": ["--search_method", "hybrid"],
    "all": ["--search_method", "all"],
    "hybrid dense+BM25": ["--search_method", "hybrid", "--hybrid_methods", "dense", "bm25"],
}


def run_method(model: str, model_class: str, extra: List[str], args: argparse.Namespace,
               run_dir: str) -> Dict[str, object]:
    """One BEIR CLI run with its own output folder ``run_dir``; its nDCG@10 and recall@100 (percent), wall
    seconds and results folder name."""
    summary = os.path.join(run_dir, "summary.json")
    command = [sys.executable, "-m", "FlagEmbedding.evaluation.beir", "--eval_name", "beir",
               "--dataset_dir", os.path.dirname(os.path.abspath(args.scifact_dir)),
               "--dataset_names", os.path.basename(os.path.abspath(args.scifact_dir)), "--splits", "test",
               "--corpus_embd_save_dir", args.corpus_embd_save_dir, "--output_dir", os.path.join(run_dir, "out"),
               "--search_top_k", "1000", "--rerank_top_k", "100", "--k_values", "10", "100",
               "--eval_output_method", "json", "--eval_output_path", summary,
               "--eval_metrics", "ndcg_at_10", "recall_at_100", "--ignore_identical_ids", "True",
               "--embedder_name_or_path", model, "--embedder_model_class", model_class, "--pooling_method", "mean",
               "--devices", "cpu", "--embedder_batch_size", "64", "--embedder_passage_max_length", "256",
               "--embedder_query_max_length", "256", *extra]
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=args.work_dir, env={**os.environ, "PYTHONPATH": REPO},
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    with open(summary, encoding="utf-8") as f:
        results = json.load(f)
    (folder,) = results  # one model folder per run_dir
    metrics = results[folder]["NoReranker"][f"{os.path.basename(os.path.abspath(args.scifact_dir))}-test"]
    return {"ndcg_at_10": metrics["ndcg_at_10"] * 100, "recall_at_100": metrics["recall_at_100"] * 100,
            "wall_s": wall, "results_folder": folder}


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scifact_dir", default=SCIFACT)
    parser.add_argument("--model", default=None, help="a plain embedder folder (default: all-MiniLM-L6-v2)")
    parser.add_argument("--m3_model", default=None, help="an M3 model folder: adds its sparse / ColBERT / all runs")
    parser.add_argument("--work_dir", required=True, help="output folder of the runs")
    parser.add_argument("--corpus_embd_save_dir", required=True, help="corpus cache (reused across methods and runs)")
    parser.add_argument("--import_summary", nargs=3, action="append", default=[], metavar=("MODEL", "METHOD", "PATH"),
                        help="add a row from the JSON summary of a BEIR CLI run made elsewhere")
    parser.add_argument("--skip_runs", action="store_true", help="only the --import_summary rows")
    add_json_argument(parser)
    args = parser.parse_args(argv)
    os.makedirs(args.work_dir, exist_ok=True)
    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical cores); SciFact test from {args.scifact_dir}")
    models = [(args.model or minilm_path(), "encoder-only-base", PLAIN_METHODS, "all-MiniLM-L6-v2")]
    if args.m3_model:
        models.append((args.m3_model, "encoder-only-m3", M3_METHODS,
                       f"M3 {os.path.basename(os.path.normpath(args.m3_model))}"))
    rows = []
    for number, (model, model_class, methods, label) in enumerate([] if args.skip_runs else models):
        for method, extra in methods.items():
            run_dir = os.path.join(args.work_dir, f"{number}-{model_class}-" + "".join(
                c if c.isalnum() else "_" for c in method))
            row = {"model": label, "method": method, "flags": " ".join(extra) or "--search_method dense",
                   **run_method(model, model_class, extra, args, run_dir)}
            rows.append(row)
            print(f"  {label:<32} {method:<26} nDCG@10 {row['ndcg_at_10']:6.2f}  recall@100 "
                  f"{row['recall_at_100']:6.2f}  {row['wall_s']:7.1f} s", flush=True)
    dataset = f"{os.path.basename(os.path.abspath(args.scifact_dir))}-test"
    for label, method, path in args.import_summary:
        with open(path, encoding="utf-8") as f:
            ((_, by_reranker),) = json.load(f).items()  # one model folder per summary
        metrics = by_reranker["NoReranker"][dataset]
        rows.append({"model": label, "method": method, "ndcg_at_10": metrics["ndcg_at_10"] * 100,
                     "recall_at_100": metrics["recall_at_100"] * 100, "source": os.path.abspath(path)})
        print(f"  {label:<32} {method:<26} nDCG@10 {rows[-1]['ndcg_at_10']:6.2f}  recall@100 "
              f"{rows[-1]['recall_at_100']:6.2f}  (from {path})", flush=True)
    write_results(args.json, "search_methods", rows)


if __name__ == "__main__":
    main()
