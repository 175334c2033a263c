"""SciFact through the BEIR CLI with --search_method bm25 equals bm25s + pytrec_eval computed here."""
from __future__ import annotations

import os

import pytest

from FlagEmbedding.retrieval.metrics import evaluate_metrics
from FlagEmbedding.abc.evaluation.naming import passage_text
from FlagEmbedding.retrieval.readers import read_corpus, read_qrels_tsv, read_queries
from tests.helpers.files import read_json


@pytest.mark.slow
def test_scifact_bm25_cli_equals_bm25s(scifact, minilm, tmp_path):
    import bm25s

    from FlagEmbedding.evaluation.beir.__main__ import main

    main(["--eval_name", "beir", "--dataset_dir", os.path.dirname(scifact), "--dataset_names", "scifact",
          "--splits", "test", "--embedder_name_or_path", minilm, "--embedder_model_class", "encoder-only-base",
          "--pooling_method", "mean", "--devices", "cpu",
          "--search_method", "bm25", "--search_top_k", "100", "--k_values", "10", "100",
          "--output_dir", str(tmp_path / "out"), "--eval_output_path", str(tmp_path / "summary.md")])
    got = read_json(str(tmp_path / "out" / f"{os.path.basename(minilm)}@bm25" / "NoReranker" / "EVAL"
                        / "eval_results.json"))["scifact-test"]
    corpus = read_corpus(os.path.join(scifact, "corpus.jsonl"))
    qrels = read_qrels_tsv(os.path.join(scifact, "qrels", "test.tsv"))
    queries = read_queries(os.path.join(scifact, "queries.jsonl"), keep=set(qrels))
    docids = list(corpus)
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize([passage_text(corpus[d]) for d in docids], stopwords="en", show_progress=False),
                    show_progress=False)
    rows, scores = retriever.retrieve(bm25s.tokenize(list(queries.values()), stopwords="en", show_progress=False),
                                      k=100, show_progress=False)
    run = {qid: {docids[i]: float(s) for i, s in zip(r, v) if s > 0} for qid, r, v in zip(queries, rows, scores)}
    ndcg, _, recall, _ = evaluate_metrics(qrels, run, [10, 100])
    assert got["ndcg_at_10"] == ndcg["NDCG@10"] and got["recall_at_100"] == recall["Recall@100"]
    assert got["ndcg_at_10"] == pytest.approx(0.66169, abs=5e-5)  # the figure in examples/retrieval/README.md
