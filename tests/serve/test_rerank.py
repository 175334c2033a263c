"""/v1/rerank equals ``compute_score(..., normalize=True)`` in values and order."""
from __future__ import annotations

import numpy as np
import pytest

from FlagEmbedding import FlagReranker
from tests.serve.conftest import MAX_LENGTH

QUERY = "What is the capital of France?"
DOCUMENTS = ["Paris is the capital of France.", "The quick brown fox jumps over the lazy dog.",
             "The giant panda is a bear species endemic to China.", "Hi! Hello there, how are you doing today?"]


@pytest.fixture(scope="module")
def expected(tiny_reranker):
    return FlagReranker(tiny_reranker, devices="cpu", max_length=MAX_LENGTH, query_max_length=MAX_LENGTH).compute_score([[QUERY, d] for d in DOCUMENTS], normalize=True)


def test_scores_and_order_equal_compute_score(dense_server, expected):
    body = dense_server.post("/v1/rerank", {"query": QUERY, "documents": DOCUMENTS}).json()
    assert body["model"] == "bge-reranker-base"
    order = list(np.argsort(-np.array(expected), kind="stable"))
    assert [r["index"] for r in body["results"]] == order
    np.testing.assert_allclose([r["relevance_score"] for r in body["results"]], np.array(expected)[order], atol=1e-6)
    assert all("document" not in r for r in body["results"])
    assert body["usage"]["total_tokens"] > len(DOCUMENTS) * 3


def test_top_n_and_return_documents_with_objects(dense_server, expected):
    documents = [{"text": d, "id": f"doc-{i}"} for i, d in enumerate(DOCUMENTS)]
    body = dense_server.post("/v1/rerank", {"query": QUERY, "documents": documents, "top_n": 2,
                                            "return_documents": True, "model": "bge-reranker-base"}).json()
    best = list(np.argsort(-np.array(expected), kind="stable"))[:2]
    assert [r["index"] for r in body["results"]] == best
    assert [r["document"] for r in body["results"]] == [documents[i] for i in best]


def test_rerank_usage_counts_assembled_pairs(dense_server, tiny_reranker):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_reranker)
    body = dense_server.post("/v1/rerank", {"query": QUERY, "documents": DOCUMENTS[:2]}).json()
    assert body["usage"]["total_tokens"] == sum(len(tokenizer(QUERY, d)["input_ids"]) for d in DOCUMENTS[:2])
