"""The search flags of the evaluation CLIs: BM25 equals bm25s, result folders name the method, --compare_to."""
from __future__ import annotations

import os

import numpy as np
import pytest

from FlagEmbedding.abc.evaluation.naming import passage_text
from tests.helpers.benchmarks import CORPUS, QUERIES, run_beir
from tests.helpers.files import read_json

DOCIDS = list(CORPUS)


def test_bm25_through_the_cli_equals_bm25s(tmp_path, tiny_bert):
    import bm25s

    run_beir(tmp_path, tiny_bert, "--search_method", "bm25", "--search_top_k", "5", write_data=True)
    saved = read_json(str(tmp_path / "out" / "bge-base-en-v1.5@bm25" / "NoReranker" / "scifact-test.json"))
    reference = bm25s.BM25()
    texts = [passage_text(CORPUS[d]) for d in DOCIDS]
    reference.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)
    rows, scores = reference.retrieve(bm25s.tokenize(list(QUERIES.values()), stopwords="en", show_progress=False),
                                      k=5, show_progress=False)
    for qid, row_ids, row_scores in zip(QUERIES, rows, scores):
        expected = {DOCIDS[i]: float(s) for i, s in zip(row_ids, row_scores) if s > 0}
        got = saved["search_results"][qid]
        assert list(got) == list(expected)
        np.testing.assert_allclose(list(got.values()), list(expected.values()), rtol=1e-6)


def test_methods_get_their_own_folders_and_share_the_cache(tmp_path, tiny_xlmr_m3):
    run_beir(tmp_path, tiny_xlmr_m3, "--embedder_model_class", "encoder-only-m3", write_data=True)
    run_beir(tmp_path, tiny_xlmr_m3, "--embedder_model_class", "encoder-only-m3", "--search_method", "all",
             "--ignore_identical_ids", "True", write_data=True)
    run_beir(tmp_path, tiny_xlmr_m3, "--embedder_model_class", "encoder-only-m3", "--search_method", "hybrid",
             "--fusion", "rrf", "--hybrid_methods", "dense", "sparse", "bm25",
             "--compare_to", str(tmp_path / "out" / "bge-m3" / "NoReranker"), write_data=True)
    folders = sorted(os.listdir(tmp_path / "out"))
    assert folders == ["bge-m3", "bge-m3@all1-0.3-1-top100-weighted-dense=1+sparse=0.3",
                       "bge-m3@hybrid-rrf60-dense+sparse+bm25"]
    assert os.listdir(tmp_path / "embd") == ["bge-m3"]  # one cache folder per model, whatever the method
    cache = tmp_path / "embd" / "bge-m3" / "scifact"
    shards = [n for n in os.listdir(cache) if os.path.isdir(cache / n) and not n.startswith("bm25-")]
    assert len(shards) == 3  # dense (shared by every run), sparse, colbert
    assert len([n for n in os.listdir(cache) if n.startswith("index-")]) == 2  # the all and hybrid builds
    summary = open(tmp_path / "summary.md", encoding="utf-8").read()
    assert "| bge-m3@hybrid-rrf60-dense+sparse+bm25 | NoReranker |" in summary
    comparison = open(str(tmp_path / "summary.md") + ".compare-bge-m3@hybrid-rrf60-dense+sparse+bm25.md",
                      encoding="utf-8").read()
    ours = read_json(str(tmp_path / "out" / "bge-m3@hybrid-rrf60-dense+sparse+bm25" / "NoReranker" / "EVAL"
                         / "eval_results.json"))["scifact-test"]
    theirs = read_json(str(tmp_path / "out" / "bge-m3" / "NoReranker" / "EVAL" / "eval_results.json"))["scifact-test"]
    line = next(l for l in comparison.splitlines() if "| ndcg_at_3 |" in l)
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[:3] == ["bge-m3@hybrid-rrf60-dense+sparse+bm25/NoReranker", "scifact-test", "ndcg_at_3"]
    assert float(cells[3]) == pytest.approx(ours["ndcg_at_3"] * 100, abs=1e-3)
    assert float(cells[4]) == pytest.approx(theirs["ndcg_at_3"] * 100, abs=1e-3)
    assert float(cells[5]) == pytest.approx((ours["ndcg_at_3"] - theirs["ndcg_at_3"]) * 100, abs=2e-3)


def test_sparse_with_a_dense_only_model_is_refused(tmp_path, tiny_bert):
    from FlagEmbedding.utils.errors import InputError

    with pytest.raises(InputError, match=r"^--search_method sparse needs sparse vectors, which only an M3 model has"):
        run_beir(tmp_path, tiny_bert, "--search_method", "sparse", write_data=True)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flags, message", [
    (["--search_method", "hybrid", "--hybrid_methods", "dense"],
     r"^--hybrid_methods must be two or more of dense, sparse, bm25, got \['dense'\]\.$"),
    (["--search_method", "hybrid", "--hybrid_methods", "dense", "bm25", "--fusion_weights", "1"],
     r"^--fusion_weights has 1 values for 2 hybrid_methods\.$"),
    (["--compare_to", "x", "--eval_metrics", "mrr_at_10"],
     r"^--compare_to supports ndcg/map/recall/precision_at_k metrics, got 'mrr_at_10'\.$"),
])
def test_bad_search_flags(flags, message):
    from transformers import HfArgumentParser

    from FlagEmbedding.evaluation.beir import BEIREvalArgs, BEIREvalModelArgs

    with pytest.raises(ValueError, match=message):
        HfArgumentParser((BEIREvalArgs, BEIREvalModelArgs)).parse_args_into_dataclasses(
            args=["--eval_name", "x", "--embedder_name_or_path", "m", *flags])
