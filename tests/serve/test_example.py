"""examples/serve/search_client.py against a real server equals the in-process pipeline."""
from __future__ import annotations

import importlib.util
import os

import numpy as np

from FlagEmbedding import FlagModel, FlagReranker
from tests.helpers import REPO
from tests.serve.conftest import MAX_LENGTH, QUERY_INSTRUCTION


def test_search_client_example(dense_server, tiny_bert, tiny_reranker, capsys):
    spec = importlib.util.spec_from_file_location("search_client", os.path.join(REPO, "examples", "serve",
                                                                                "search_client.py"))
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    reranked = example.main(["--url", dense_server.url, "--top_k", "3"])

    embedder = FlagModel(tiny_bert, devices="cpu", query_instruction_for_retrieval=QUERY_INSTRUCTION,
                         query_max_length=MAX_LENGTH, passage_max_length=MAX_LENGTH)
    similarity = embedder.encode_corpus(example.PASSAGES) @ embedder.encode_queries(example.QUERY)
    hits = np.argsort(-similarity)[:3].tolist()
    scores = FlagReranker(tiny_reranker, devices="cpu", max_length=MAX_LENGTH, query_max_length=MAX_LENGTH
                          ).compute_score([[example.QUERY, example.PASSAGES[i]] for i in hits], normalize=True)
    expected = sorted(zip(hits, scores), key=lambda pair: -pair[1])
    assert [index for index, _ in reranked] == [index for index, _ in expected]
    np.testing.assert_allclose([s for _, s in reranked], [s for _, s in expected], atol=1e-6)
    assert "dense top hits:" in capsys.readouterr().out
