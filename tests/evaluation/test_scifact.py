"""Real data, real model: the documented BEIR command on SciFact with all-MiniLM-L6-v2 (MTEB: nDCG@10 64.51)."""
from __future__ import annotations

import csv
import json
import os

import pytest

from FlagEmbedding.evaluation.beir.__main__ import main
from tests.helpers.benchmarks import scifact_argv
from tests.helpers.files import read_json, write_jsonl

pytestmark = pytest.mark.slow

MTEB_NDCG_AT_10 = 64.51


def eval_results(output_dir: str) -> dict:
    return read_json(os.path.join(output_dir, "model", "NoReranker", "EVAL", "eval_results.json"))


def test_documented_beir_command_matches_mteb(scifact_run):
    results = eval_results(scifact_run["out"])
    assert list(results) == ["scifact-test"]
    assert abs(results["scifact-test"]["ndcg_at_10"] * 100 - MTEB_NDCG_AT_10) <= 0.05
    assert scifact_run["runner"].retriever.last_cache.encoded_shards == [0]
    with open(scifact_run["summary"]) as f:
        summary = f.read()
    ndcg = results["scifact-test"]["ndcg_at_10"] * 100
    assert f"| model | NoReranker | **{ndcg:.3f}** | **{ndcg:.3f}** | \n" in summary
    hits = read_json(os.path.join(scifact_run["out"], "model", "NoReranker", "scifact-test.json"))["search_results"]
    assert len(hits) == 300 and all(len(h) == 1000 and qid not in h for qid, h in hits.items())


def test_library_layout_gives_the_same_scores_from_the_same_cache(scifact_run, scifact, tmp_path):
    """SciFact rewritten in this library's layout: the fingerprint matches, so not one shard is re-encoded."""
    folder = tmp_path / "data" / "scifact"
    with open(os.path.join(scifact, "corpus.jsonl"), encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    write_jsonl(str(folder / "corpus.jsonl"), ({"id": d["_id"], "title": d["title"], "text": d["text"]} for d in docs))
    with open(os.path.join(scifact, "qrels", "test.tsv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    write_jsonl(str(folder / "test_qrels.jsonl"),
                ({"qid": r["query-id"], "docid": r["corpus-id"], "relevance": int(r["score"])} for r in rows))
    test_ids = {r["query-id"] for r in rows}
    with open(os.path.join(scifact, "queries.jsonl"), encoding="utf-8") as f:
        queries = [json.loads(line) for line in f]
    write_jsonl(str(folder / "test_queries.jsonl"), ({"id": q["_id"], "text": q["text"]} for q in queries
                                                     if q["_id"] in test_ids))
    out = str(tmp_path / "search_results")
    runner = main(scifact_argv(str(tmp_path / "data"), scifact_run["runner"].model_args.embedder_name_or_path,
                               scifact_run["embd"], out, str(tmp_path / "beir.md")))
    assert runner.retriever.last_cache.encoded_shards == []
    assert runner.retriever.last_cache.path == scifact_run["runner"].retriever.last_cache.path
    assert eval_results(out) == eval_results(scifact_run["out"])
