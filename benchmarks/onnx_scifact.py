"""SciFact nDCG@10 and corpus-encode speed of FlagModel on torch fp32, ONNX Runtime fp32 and ONNX Runtime int8
(and OpenVINO fp32 with ``--backends ... "openvino fp32"``).

all-MiniLM-L6-v2 (mean pooling, ``--max_length`` tokens), the BEIR SciFact test split, exact inner-product
search. The backends run one after another in this process (ONNX exports are made first, outside the timing,
into a temporary cache); each prints one JSON line as soon as it finishes, then a table of passages/s, the
speed ratio against torch fp32 and the nDCG@10 difference. The CPU model and ISA flags are printed first.

    nice python benchmarks/onnx_scifact.py --max_length 256 [--corpus_limit 1000]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time

import numpy as np

from _common import SCIFACT, add_json_argument, minilm_path, write_results

BACKENDS = {"torch fp32": {}, "onnx fp32": {"backend": "onnx"}, "onnx int8": {"backend": "onnx", "quantize": "int8"},
            "openvino fp32": {"backend": "openvino"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scifact_dir", default=SCIFACT)
    parser.add_argument("--max_length", type=int, default=256)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--corpus_limit", type=int, default=None,
                        help="keep every passage judged in the test qrels plus the first others, this many in all "
                             "(a documented subset for a busy machine; nDCG@10 is then not the full-corpus figure)")
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS)[:3], choices=list(BACKENDS))
    add_json_argument(parser)
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    from FlagEmbedding import FlagModel
    from FlagEmbedding.abc.evaluation.evaluator import AbsEvaluator
    from FlagEmbedding.backends.cpu_info import cpu_description
    from FlagEmbedding.evaluation.beir.data_loader import BEIREvalDataLoader

    loader = BEIREvalDataLoader("beir", dataset_dir=os.path.dirname(os.path.abspath(args.scifact_dir)))
    name = os.path.basename(os.path.abspath(args.scifact_dir))
    corpus = loader.load_corpus(name)
    queries, qrels = loader.load_queries(name, split="test"), loader.load_qrels(name, split="test")
    docids, qids = list(corpus), list(queries)
    if args.corpus_limit:
        judged = {d for rels in qrels.values() for d in rels}
        others = [d for d in docids if d not in judged][: max(0, args.corpus_limit - len(judged))]
        keep = judged | set(others)
        docids = [d for d in docids if d in keep]
    passages = [f"{corpus[d].get('title', '')} {corpus[d]['text']}".strip() for d in docids]
    print(f"CPU: {cpu_description()}")
    print(f"SciFact test: {len(passages)} passages, {len(qids)} queries, max_length={args.max_length}", flush=True)

    rows = {}
    with tempfile.TemporaryDirectory() as cache:
        for label in args.backends:
            model = FlagModel(minilm_path(), pooling_method="mean", devices="cpu", batch_size=args.batch_size,
                              passage_max_length=args.max_length, query_max_length=args.max_length,
                              onnx_cache_dir=cache, **BACKENDS[label])
            model.encode(passages[:8])  # export / warm-up outside the timing
            start = time.perf_counter()
            corpus_vectors = model.encode_corpus(passages)
            seconds = time.perf_counter() - start
            scores = model.encode_queries([queries[q] for q in qids]) @ corpus_vectors.T
            top = np.argsort(-scores, axis=1)[:, :100]
            results = {qid: {docids[j]: float(scores[i, j]) for j in top[i]} for i, qid in enumerate(qids)}
            ndcg = AbsEvaluator.compute_metrics(qrels, results, [10])["ndcg_at_10"] * 100
            rows[label] = {"backend": label, "passages_per_s": len(passages) / seconds, "ndcg_at_10": ndcg}
            print(json.dumps(rows[label]), flush=True)
    base = rows.get("torch fp32")
    print(f"\n{'backend':<12}{'passages/s':>12}{'ratio':>8}{'nDCG@10':>9}{'diff':>7}")
    for label, row in rows.items():
        ratio = row["passages_per_s"] / base["passages_per_s"] if base else float("nan")
        diff = row["ndcg_at_10"] - base["ndcg_at_10"] if base else float("nan")
        print(f"{label:<12}{row['passages_per_s']:>12.1f}{ratio:>8.2f}{row['ndcg_at_10']:>9.2f}{diff:>+7.2f}")
        row.update(ratio_to_torch_fp32=ratio, ndcg_at_10_diff=diff)
    write_results(args.json, "onnx_scifact", list(rows.values()), passages=len(passages), queries=len(qids),
                  max_length=args.max_length, batch_size=args.batch_size)


if __name__ == "__main__":
    main()
