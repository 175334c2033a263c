"""Exact batched search, exclusions before the top-k cut, and the reranking stage."""
from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pytest

from FlagEmbedding.abc.evaluation.searcher import EvalDenseRetriever, EvalReranker, model_name_or_path
from FlagEmbedding.abc.evaluation.naming import display_name
from FlagEmbedding.retrieval.exact_search import index, search
from FlagEmbedding.evaluation.bright.searcher import BrightEvalDenseRetriever


def brute_force(corpus: np.ndarray, queries: np.ndarray, k: int):
    scores = queries.astype(np.float32) @ corpus.astype(np.float32).T
    order = np.lexsort((np.tile(np.arange(corpus.shape[0]), (len(queries), 1)), -scores), axis=1)[:, :k]
    return np.take_along_axis(scores, order, axis=1), order


@pytest.mark.parametrize("k", [1, 10, 100])
def test_search_over_shards_equals_brute_force(k):
    rng = np.random.default_rng(0)
    corpus = rng.normal(size=(50, 8)).astype(np.float32)
    queries = rng.normal(size=(13, 8)).astype(np.float32)
    shards = [corpus[:7], corpus[7:27].astype(np.float16).astype(np.float32), corpus[27:]]
    exact = np.concatenate(shards)
    scores, indices = search(index(shards, chunk_rows=5), k, queries, batch_size=4, device="cpu")
    expected_scores, expected_indices = brute_force(exact, queries, k)
    assert indices.shape == (13, min(k, 50))
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-5, atol=1e-6)


def test_search_rejects_width_mismatch():
    with pytest.raises(ValueError, match="^Query embeddings have width 3 but the corpus embeddings have width 4.$"):
        search(index(np.ones((2, 4), dtype=np.float32)), 1, np.ones((1, 3), dtype=np.float32))


def test_display_name():
    assert display_name("BAAI/bge-m3") == "bge-m3"
    assert display_name("/models/bge-m3/") == "bge-m3"


class FakeEmbedder:
    """Embeds a text as a one-hot of its first character (queries and passages alike)."""

    def __init__(self, vocabulary: str = "abcdefgh"):
        self.vocabulary = vocabulary
        self.model_name_or_path = "fake/embedder"
        self.model = SimpleNamespace(config=SimpleNamespace(_name_or_path="fake/embedder"))
        self.target_devices = ["cpu"]

    def _vectors(self, texts):
        out = np.zeros((len(texts), len(self.vocabulary)), dtype=np.float32)
        for row, text in enumerate(texts):
            for position, char in enumerate(text):
                out[row, self.vocabulary.index(char)] += 1.0 / (position + 1)
        return out

    encode_corpus = encode_queries = lambda self, texts, **kw: self._vectors(texts)

    def stop_self_pool(self):
        pass


CORPUS = {"x1": {"text": "ab"}, "x2": {"text": "a"}, "x3": {"text": "abc"}, "x4": {"text": "b"}}


def test_stage_names_come_from_the_model_name_or_path():
    """A FlagEmbedding model's own ``model_name_or_path`` names the stage (its HF config is never rewritten);
    other objects fall back to their transformers config."""
    embedder = FakeEmbedder()
    embedder.model_name_or_path = "/models/bge-m3/"
    assert str(EvalDenseRetriever(embedder)) == "bge-m3" and embedder.model.config._name_or_path == "fake/embedder"
    plain = SimpleNamespace(model=SimpleNamespace(config=SimpleNamespace(_name_or_path="a/b")))
    assert model_name_or_path(plain) == "a/b"


def test_ignore_identical_ids_filters_before_the_cut():
    retriever = EvalDenseRetriever(FakeEmbedder(), search_top_k=2)
    results = retriever(CORPUS, {"x2": "a", "q": "a"}, ignore_identical_ids=True)
    # 'a' scores: x2 = 1, x1 = 1, x3 = 1 (ties broken by corpus row), x4 = 0
    assert results == {"x2": {"x1": 1.0, "x3": 1.0}, "q": {"x1": 1.0, "x2": 1.0}}


def test_bright_exclusions_filter_before_the_cut():
    retriever = BrightEvalDenseRetriever(FakeEmbedder(), search_top_k=2)
    qrels = {"q": {"x1": 0, "x2": 0, "x3": 1}}
    assert retriever(CORPUS, {"q": "a"}, retriever_qrels=qrels) == {"q": {"x3": 1.0, "x4": 0.0}}


class FakeReranker:
    def __init__(self, scores):
        self.scores = scores
        self.calls = []
        self.model = SimpleNamespace(config=SimpleNamespace(_name_or_path="org/fake-reranker/"))

    def compute_score(self, pairs):
        self.calls.append(list(pairs))
        values = [self.scores[passage] for _, passage in pairs]
        return values[0] if len(values) == 1 else values


def test_reranker_keeps_the_tail_and_never_mutates_input():
    corpus = {d: {"title": "T", "text": d} for d in ("a", "b", "c", "d", "e")}
    hits = {"q1": {"e": 0.1, "a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6}, "q2": {"a": 0.5}}
    before = copy.deepcopy(hits)
    model = FakeReranker({"T a": 1.0, "T b": 3.0, "T c": 2.0, "T d": 0.0, "T e": 0.0})
    reranker = EvalReranker(model, rerank_top_k=3, pairs_per_call=3)
    out = reranker(corpus, {"q1": "query one", "q2": "query two"}, hits)
    assert hits == before
    assert str(reranker) == "fake-reranker"
    assert list(out["q1"].items()) == [("b", 3.0), ("c", 2.0), ("a", 1.0), ("d", 0.0), ("e", -1.0)]
    assert out["q2"] == {"a": 1.0}
    # 4 pairs in calls of 3: the last call has one pair and gets a scalar back
    assert [len(c) for c in model.calls] == [3, 1]
    assert model.calls[0][0] == ["query one", "T a"]


def test_reranker_rejects_wrong_score_count():
    class Broken(FakeReranker):
        def compute_score(self, pairs):
            return [0.0]

    with pytest.raises(ValueError, match="^The reranker returned 1 scores for 2 pairs.$"):
        EvalReranker(Broken({}), rerank_top_k=5)({"a": {"text": "a"}, "b": {"text": "b"}}, {"q": "q"},
                                                 {"q": {"a": 1.0, "b": 0.5}})
