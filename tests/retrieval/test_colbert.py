"""ColBERT store: late-interaction scores over padded fp16 rows equal the score on the unpadded vectors."""
from __future__ import annotations

import numpy as np
import pytest

from FlagEmbedding.retrieval import colbert


def normalized(rng: np.random.Generator, tokens: int, dim: int) -> np.ndarray:
    vecs = rng.standard_normal((tokens, dim)).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


@pytest.mark.parametrize("chunk_values", [colbert.SCORE_CHUNK_VALUES, 40])
def test_scores_equal_unpadded_reference_across_blocks_and_chunks(monkeypatch, chunk_values):
    monkeypatch.setattr(colbert, "SCORE_CHUNK_VALUES", chunk_values)  # 40 values: one passage per step
    rng = np.random.default_rng(0)
    dim = 4
    query = normalized(rng, 3, dim)
    passages = [normalized(rng, n, dim) for n in (3, 1, 5, 2, 0, 4)]  # the fifth passage has no tokens
    passages.append(-query.sum(axis=0, keepdims=True) / np.linalg.norm(query.sum(axis=0)))  # every dot < 0 here
    blocks = [colbert.padded_rows(passages[:3], dim), colbert.padded_rows(passages[3:], dim)]  # widths 20, 16
    store = colbert.ColbertStore(blocks, dim)
    rows = [5, 0, 4, 2, 6, 1, 3, 0]
    expected = []
    for row in rows:  # mean over query tokens of the best passage token, in float64 on the fp16-rounded vectors
        vecs = passages[row].astype(np.float16).astype(np.float64)
        expected.append((query.astype(np.float64) @ vecs.T).max(axis=1).mean() if len(vecs) else 0.0)
    assert expected[rows.index(6)] < 0  # the padding rows (dot 0) must not win the max
    np.testing.assert_allclose(store.score(query, rows), expected, rtol=1e-6, atol=1e-6)
    assert store.score(query, []).size == 0
    assert not store.score(np.zeros((0, dim), np.float32), [0, 1]).any()
