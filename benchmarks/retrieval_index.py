"""Retrieval index on SciFact: build time, size on disk and queries/s per method; sparse search against a
brute-force baseline; faiss index factories against exact dense search (recall@10), all in one run.

Dense vectors come from all-MiniLM-L6-v2 (mean pooling, 256 tokens) through the evaluation's corpus cache
(``--cache_dir``: reuse the BEIR CLI's ``<corpus_embd_save_dir>/<model>/scifact`` to skip the corpus encode).
all-MiniLM-L6-v2 has no M3 heads, so the sparse benchmark uses *synthetic* lexical weights with M3's shape:
each passage's (at most 256) unique tokenizer ids weighted by ``log(1 + tf) * idf``; the baseline is the
brute-force dictionary dot product of every query with every passage (``compute_lexical_matching_score``);
``pyseismic-lsr`` (approximate) is measured beside them when installed.

    python benchmarks/retrieval_index.py --cache_dir /tmp/rt/corpus_embd/model/scifact \
        [--m3_model /tmp/m3ft/minilm_scifact_m3 --m3_cache_dir /tmp/m3ft/eval_after_m3/corpus_embd/minilm_scifact_m3/scifact]

``--m3_model`` adds the real M3 figures (size on disk per representation, queries/s of dense, sparse, colbert,
hybrid and all, query encoding included) of a fine-tuned M3 model's index.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import Counter
from typing import Any, Dict, List

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import SCIFACT, add_json_argument, cpu_model, minilm_path, write_results  # noqa: E402


def folder_mib(path: str) -> float:
    """Size of the files under ``path`` in MiB."""
    return sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(path) for name in names) / 2**20


def load_embedder(path: str, model_class: str) -> Any:
    """The embedder the BEIR CLI builds for ``path`` (mean pooling, 256 tokens, fp32 on CPU, batch 64)."""
    from FlagEmbedding.abc.evaluation.arguments import AbsEvalModelArgs
    from FlagEmbedding.abc.evaluation.runner import AbsEvalRunner

    embedder, _ = AbsEvalRunner.get_models(AbsEvalModelArgs(
        embedder_name_or_path=path, embedder_model_class=model_class, pooling_method="mean", devices=["cpu"],
        use_fp16=False, embedder_batch_size=64, embedder_query_max_length=256, embedder_passage_max_length=256))
    return embedder


def synthetic_lexical(tokenizer, texts: List[str], max_length: int, idf: Dict[str, float]) -> List[Dict[str, float]]:
    """``{token id: log(1 + tf) * idf}`` per text (ids of the first ``max_length`` tokens)."""
    out = []
    for ids in tokenizer(texts, truncation=True, max_length=max_length, add_special_tokens=False)["input_ids"]:
        counts = Counter(str(i) for i in ids)
        out.append({tok: math.log1p(tf) * idf.get(tok, 0.0) for tok, tf in counts.items()})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scifact_dir", default=SCIFACT)
    parser.add_argument("--cache_dir", required=True, help="index folder (the CLI's corpus cache folder to reuse it)")
    parser.add_argument("--factories", nargs="+", default=["IVF64,Flat", "HNSW32", "IVF64,PQ16x8"])
    parser.add_argument("--top_k", type=int, default=100)
    parser.add_argument("--m3_model", default=None,
                        help="an M3 model folder (e.g. the MiniLM fine-tuned by examples/finetune/scifact/run.py "
                             "--kind m3): adds its dense / sparse / colbert / hybrid / all figures")
    parser.add_argument("--m3_cache_dir", default=None,
                        help="the M3 model's index folder (the CLI's <corpus_embd_save_dir>/<model>/scifact)")
    add_json_argument(parser)
    args = parser.parse_args()

    from FlagEmbedding.abc.evaluation.naming import passage_text
    from FlagEmbedding.retrieval.readers import read_corpus, read_qrels_tsv, read_queries
    from FlagEmbedding.retrieval import BM25Index, DenseIndex, RetrievalIndex, SearchOptions, SparseIndex
    from FlagEmbedding.retrieval.sparse import csr_from_dicts

    print(f"CPU: {cpu_model()}; threads: {os.environ.get('OMP_NUM_THREADS', 'default')}")
    corpus = read_corpus(os.path.join(args.scifact_dir, "corpus.jsonl"))
    qrels = read_qrels_tsv(os.path.join(args.scifact_dir, "qrels", "test.tsv"))
    queries = read_queries(os.path.join(args.scifact_dir, "queries.jsonl"), keep=set(qrels))
    docids, texts = list(corpus), [passage_text(corpus[d]) for d in corpus]
    query_texts = list(queries.values())
    embedder = load_embedder(minilm_path(), "encoder-only-base")
    report: Dict[str, Dict[str, float]] = {}

    start = time.perf_counter()
    index = RetrievalIndex.build(args.cache_dir, docids, texts, embedder=embedder, representations=["dense"],
                                 store_corpus=False)
    report["dense build (cached shards)"] = {"seconds": time.perf_counter() - start}
    start = time.perf_counter()
    bm25 = BM25Index.build(texts)
    report["bm25 build"] = {"seconds": time.perf_counter() - start}
    bm25_dir = os.path.join(args.cache_dir, "benchmark-bm25")
    bm25.save(bm25_dir)
    report["bm25 build"]["disk_mib"] = folder_mib(bm25_dir)
    dense_path = next(os.path.join(args.cache_dir, n) for n in os.listdir(args.cache_dir)
                      if os.path.isfile(os.path.join(args.cache_dir, n, "manifest.json")))
    report["dense build (cached shards)"]["disk_mib"] = folder_mib(dense_path)

    reps = index.encode_queries(query_texts, ["dense"])
    index.parts["bm25"] = bm25
    reps["bm25"] = bm25.tokenize(query_texts)
    for name, options in {"dense": SearchOptions(), "bm25": SearchOptions(method="bm25"),
                          "hybrid weighted dense+bm25": SearchOptions(method="hybrid",
                                                                      hybrid_methods=["dense", "bm25"]),
                          "hybrid rrf dense+bm25": SearchOptions(method="hybrid", hybrid_methods=["dense", "bm25"],
                                                                 fusion="rrf")}.items():
        start = time.perf_counter()
        if options.method == "hybrid":
            index.hybrid(reps, args.top_k, options)
        else:
            index.first_stage(options.method, reps, args.top_k)
        report[f"search {name}"] = {"queries_per_s": len(query_texts) / (time.perf_counter() - start)}

    # faiss factories vs exact dense search
    exact = index.parts["dense"]
    _, exact_rows = exact.search(reps["dense"], 10)
    for factory in args.factories:
        start = time.perf_counter()
        approx = DenseIndex(exact.rows.blocks, faiss_factory=factory)
        built = time.perf_counter() - start
        start = time.perf_counter()
        _, rows = approx.search(reps["dense"], 10)
        seconds = time.perf_counter() - start
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(rows.tolist(), exact_rows.tolist())])
        report[f"faiss {factory}"] = {"build_s": built, "queries_per_s": len(query_texts) / seconds,
                                      "recall_at_10_vs_exact": float(recall)}
    shards = [exact.rows.blocks[0][i:i + 1000] for i in range(0, exact.ntotal, 1000)]
    sharded_scores, sharded_rows = DenseIndex(shards).search(reps["dense"], 10)
    report["exact search over 1000-row shards"] = {
        "identical_to_one_block": float(np.array_equal(sharded_rows, exact_rows))}

    # sparse: CSR inverted index vs brute-force dict products, synthetic M3-shaped weights
    tokenizer = embedder.tokenizer
    doc_freq = Counter(tok for ids in tokenizer(texts, truncation=True, max_length=256, add_special_tokens=False)
                       ["input_ids"] for tok in {str(i) for i in ids})
    idf = {tok: math.log(len(texts) / df) for tok, df in doc_freq.items()}
    doc_weights = synthetic_lexical(tokenizer, texts, 256, idf)
    query_weights = synthetic_lexical(tokenizer, query_texts, 256, idf)
    vocab = tokenizer.vocab_size
    start = time.perf_counter()
    sparse = SparseIndex(csr_from_dicts(doc_weights, vocab))
    report["sparse build (CSR)"] = {"seconds": time.perf_counter() - start}
    start = time.perf_counter()
    _, sparse_rows = sparse.search(sparse.queries(query_weights), 10)
    csr_seconds = time.perf_counter() - start
    start = time.perf_counter()
    brute = np.array([[sum(w * d[t] for t, w in q.items() if t in d) for d in doc_weights] for q in query_weights])
    brute_seconds = time.perf_counter() - start
    same = all(np.allclose(np.sort(b)[::-1][:len(rows)], b[rows], rtol=1e-5) and len(rows) == min(10, (b > 0).sum())
               for rows, b in zip(sparse_rows, brute))  # the same score at every rank (ties may swap documents)
    report["sparse search"] = {"csr_queries_per_s": len(query_texts) / csr_seconds,
                               "brute_force_queries_per_s": len(query_texts) / brute_seconds,
                               "speedup": brute_seconds / csr_seconds, "same_top10_scores": float(same)}
    report["sparse search"].update(seismic_figures(doc_weights, query_weights, sparse_rows))
    if args.m3_model:
        report.update(m3_figures(args, docids, texts, query_texts))
    print(json.dumps(report, indent=2))
    write_results(args.json, "retrieval_index", [{"figure": name, **values} for name, values in report.items()])


def m3_figures(args: argparse.Namespace, docids: List[str], texts: List[str],
               query_texts: List[str]) -> Dict[str, Dict[str, float]]:
    """Index load time, size on disk per representation and queries/s per method (query encoding included) of
    an M3 model's index, built (or reused) in ``--m3_cache_dir`` with the evaluation's settings."""
    from FlagEmbedding.retrieval import RetrievalIndex, SearchOptions

    embedder = load_embedder(args.m3_model, "encoder-only-m3")
    representations = ["dense", "sparse", "colbert"]
    start = time.perf_counter()
    index = RetrievalIndex.build(args.m3_cache_dir, docids, texts, embedder=embedder,
                                 representations=representations, store_corpus=False)
    report: Dict[str, Dict[str, float]] = {"m3 index build (cached shards)": {"seconds": time.perf_counter() - start}}
    for folder in sorted(os.listdir(args.m3_cache_dir)):
        manifest = os.path.join(args.m3_cache_dir, folder, "manifest.json")
        if os.path.isfile(manifest):
            with open(manifest, encoding="utf-8") as handle:
                model = json.load(handle)["identity"]["model"]
            name = model.get("representation", "dense")
            report[f"m3 {name} disk"] = {"disk_mib": folder_mib(os.path.join(args.m3_cache_dir, folder))}
    start = time.perf_counter()
    index.encode_queries(query_texts, representations)
    report["m3 query encoding (all three)"] = {"queries_per_s": len(query_texts) / (time.perf_counter() - start)}
    for method in ("dense", "sparse", "colbert", "hybrid", "all"):
        start = time.perf_counter()
        index.search(query_texts, args.top_k, SearchOptions(method=method))
        report[f"m3 search {method}"] = {"queries_per_s": len(query_texts) / (time.perf_counter() - start)}
    return report


def seismic_figures(doc_weights: List[Dict[str, float]], query_weights: List[Dict[str, float]],
                    exact_rows: List[np.ndarray]) -> Dict[str, float]:
    """Build time, queries/s (1 thread) and recall@10 against exact search of ``pyseismic-lsr`` (approximate),
    or nothing when it is not installed."""
    try:
        import seismic
    except ImportError:
        return {}
    kind = seismic.get_seismic_string()
    start = time.perf_counter()
    dataset = seismic.SeismicDataset()
    for row, weights in enumerate(doc_weights):
        dataset.add_document(str(row), np.array(list(weights), dtype=kind),
                             np.array(list(weights.values()), dtype=np.float32))
    index = seismic.SeismicIndex.build_from_dataset(dataset)
    built = time.perf_counter() - start
    start = time.perf_counter()
    results = index.batch_search(np.array([str(i) for i in range(len(query_weights))], dtype=kind),
                                 [np.array(list(q), dtype=kind) for q in query_weights],
                                 [np.array(list(q.values()), dtype=np.float32) for q in query_weights],
                                 k=10, query_cut=20, heap_factor=0.7, num_threads=1)
    seconds = time.perf_counter() - start
    recall = np.mean([len({int(hit[2]) for hit in hits} & set(exact_rows[int(hits[0][0])].tolist()))
                      / max(1, len(exact_rows[int(hits[0][0])])) for hits in results if hits])
    return {"seismic_build_s": built, "seismic_queries_per_s_1_thread": len(query_weights) / seconds,
            "seismic_recall_at_10_vs_exact": float(recall)}


if __name__ == "__main__":
    main()
