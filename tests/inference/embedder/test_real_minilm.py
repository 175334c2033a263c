"""Real weights: FlagModel(mean pooling) equals sentence-transformers on 200 SciFact passages."""
import json
import os

import numpy as np
import pytest

from FlagEmbedding import FlagModel


@pytest.mark.slow
def test_minilm_matches_sentence_transformers(minilm, scifact):
    from sentence_transformers import SentenceTransformer

    with open(os.path.join(scifact, "corpus.jsonl"), encoding="utf-8") as f:
        docs = [json.loads(line) for line, _ in zip(f, range(200))]
    texts = [f"{d['title']} {d['text']}".strip() for d in docs]
    ours = FlagModel(minilm, pooling_method="mean", devices="cpu", passage_max_length=256, batch_size=32).encode(texts)
    theirs = SentenceTransformer(minilm, device="cpu").encode(texts, normalize_embeddings=True, batch_size=32)
    assert ours.shape == theirs.shape == (200, 384)
    cosines = np.sum(ours * theirs, axis=1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
    assert np.max(np.abs(cosines - 1)) <= 1e-5
