"""RetrievalIndex against independent references: BGEM3FlagModel.compute_score, brute-force sparse products,
hand-computed fusion, bm25s used directly; save/load round trips and refusals."""
from __future__ import annotations

import os

import numpy as np
import pytest

from FlagEmbedding.abc.evaluation.naming import passage_text
from FlagEmbedding.retrieval import RetrievalIndex, SearchOptions, rrf_fusion, weighted_fusion
from tests import tiny_models
from tests.helpers.benchmarks import CORPUS, QUERIES

DOCIDS = list(CORPUS)
TEXTS = [passage_text(CORPUS[d]) for d in DOCIDS]
QUERY_TEXTS = list(QUERIES.values())
EVERYTHING = ["dense", "sparse", "colbert", "bm25"]


@pytest.fixture(scope="module")
def m3(tiny_xlmr_m3):
    from FlagEmbedding import BGEM3FlagModel

    return BGEM3FlagModel(tiny_xlmr_m3, devices="cpu", use_fp16=False, batch_size=4)


@pytest.fixture(scope="module")
def m3_index(m3, tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("index"))
    return folder, RetrievalIndex.build(folder, DOCIDS, TEXTS, embedder=m3, representations=EVERYTHING, shard_rows=3)


def test_all_ranking_equals_compute_score(m3, m3_index):
    _, index = m3_index
    weights = [1.0, 0.3, 1.0]
    options = SearchOptions(method="all", hybrid_methods=["dense", "sparse", "bm25"], m3_weights=weights,
                            rerank_top_k=len(DOCIDS))
    ids, scores = index.search(QUERY_TEXTS, top_k=len(DOCIDS), options=options)
    for query, docs, got in zip(QUERY_TEXTS, ids, scores):
        assert sorted(docs) == sorted(DOCIDS)  # dense alone returns every document as a candidate
        reference = m3.compute_score([[query, TEXTS[DOCIDS.index(d)]] for d in docs], batch_size=1,
                                     weights_for_different_modes=weights)
        expected = np.array(reference["colbert+sparse+dense"]) * sum(weights)  # compute_score divides by the sum
        np.testing.assert_allclose(got, expected, atol=2e-4)  # ColBERT vectors are stored in float16
        assert list(np.argsort(-expected, kind="stable")) == list(range(len(docs)))


def test_colbert_reranks_dense_candidates(m3, m3_index):
    _, index = m3_index
    dense_ids, _ = index.search(QUERY_TEXTS, top_k=5)
    ids, scores = index.search(QUERY_TEXTS, top_k=5, options=SearchOptions(method="colbert", rerank_top_k=5))
    queries = m3.encode_queries(QUERY_TEXTS, return_dense=False, return_colbert_vecs=True)["colbert_vecs"]
    passages = m3.encode_corpus(TEXTS, return_dense=False, return_colbert_vecs=True)["colbert_vecs"]
    for row, (docs, got) in enumerate(zip(ids, scores)):
        assert sorted(docs) == sorted(dense_ids[row])
        expected = [float(m3.colbert_score(queries[row], passages[DOCIDS.index(d)])) for d in docs]
        np.testing.assert_allclose(got, expected, atol=2e-4)


def test_sparse_search_equals_brute_force(m3, m3_index):
    _, index = m3_index
    ids, scores = index.search(QUERY_TEXTS, top_k=4, options=SearchOptions(method="sparse"))
    query_weights = m3.encode_queries(QUERY_TEXTS, return_dense=False, return_sparse=True)["lexical_weights"]
    doc_weights = m3.encode_corpus(TEXTS, return_dense=False, return_sparse=True)["lexical_weights"]
    brute = m3.compute_lexical_matching_score(list(query_weights), list(doc_weights))
    for row, (docs, got) in enumerate(zip(ids, scores)):
        positive = [(float(s), DOCIDS[j]) for j, s in enumerate(brute[row]) if s > 0]
        expected = sorted(positive, key=lambda item: (-item[0], DOCIDS.index(item[1])))[:4]
        assert docs == [d for _, d in expected]
        np.testing.assert_allclose(got, [s for s, _ in expected], rtol=1e-5)


def test_fusions_equal_hand_computed_values():
    dense = {"q": {"a": 0.9, "b": 0.5}, "r": {"c": 0.2}}
    bm25 = {"q": {"b": 10.0, "c": 4.0}, "r": {}}
    assert weighted_fusion([dense, bm25], [1.0, 0.03]) == {
        "q": {"a": 0.9, "b": pytest.approx(0.5 + 0.3), "c": pytest.approx(0.12)}, "r": {"c": 0.2}}
    fused = rrf_fusion([dense, bm25], k=60)
    assert fused["q"] == {"a": pytest.approx(1 / 61), "b": pytest.approx(1 / 62 + 1 / 61), "c": pytest.approx(1 / 62)}
    assert fused["r"] == {"c": pytest.approx(1 / 61)}
    with pytest.raises(ValueError, match=r"^weights has 1 values for 2 runs\.$"):
        weighted_fusion([dense, bm25], [1.0])


def test_weighted_hybrid_scores_every_candidate_exactly(m3_index):
    _, index = m3_index
    options = SearchOptions(method="hybrid", hybrid_methods=["dense", "bm25"], fusion_weights=[1.0, 0.5])
    ids, scores = index.search(QUERY_TEXTS, top_k=3, options=options)
    dense_ids, dense_scores = index.search(QUERY_TEXTS, top_k=len(DOCIDS))
    bm25_ids, bm25_scores = index.search(QUERY_TEXTS, top_k=len(DOCIDS), options=SearchOptions(method="bm25"))
    for row in range(len(QUERY_TEXTS)):
        d = dict(zip(dense_ids[row], dense_scores[row]))
        b = dict(zip(bm25_ids[row], bm25_scores[row]))
        candidates = set(dense_ids[row][:3]) | set(bm25_ids[row][:3])
        expected = sorted(((d[doc] + 0.5 * b.get(doc, 0.0), doc) for doc in candidates), key=lambda x: (-x[0], x[1]))
        assert ids[row] == [doc for _, doc in expected[:3]]
        np.testing.assert_allclose(scores[row], [s for s, _ in expected[:3]], rtol=1e-5)


def test_rrf_hybrid_equals_hand_computed(m3_index):
    _, index = m3_index
    ids, scores = index.search(QUERY_TEXTS, top_k=2, options=SearchOptions(
        method="hybrid", hybrid_methods=["dense", "sparse"], fusion="rrf", rrf_k=10))
    dense_ids, _ = index.search(QUERY_TEXTS, top_k=2)
    sparse_ids, _ = index.search(QUERY_TEXTS, top_k=2, options=SearchOptions(method="sparse"))
    for row in range(len(QUERY_TEXTS)):
        expected = {}
        for ranking in (dense_ids[row], sparse_ids[row]):
            for rank, doc in enumerate(ranking, start=1):
                expected[doc] = expected.get(doc, 0.0) + 1 / (10 + rank)
        best = sorted(expected.items(), key=lambda item: (-item[1], item[0]))[:2]
        assert ids[row] == [doc for doc, _ in best]
        np.testing.assert_allclose(scores[row], [s for _, s in best])


def test_save_load_round_trip_reuses_every_part(m3, m3_index, monkeypatch):
    folder, index = m3_index
    options = SearchOptions(method="all")
    before = index.search(QUERY_TEXTS, top_k=5, options=options)

    def no_encoding(*args, **kwargs):
        raise AssertionError("loading re-encoded the corpus")

    monkeypatch.setattr(m3, "encode_corpus", no_encoding)
    loaded = RetrievalIndex.load(folder, m3)
    assert loaded.docids == DOCIDS and sorted(loaded.parts) == sorted(EVERYTHING)
    assert loaded.search(QUERY_TEXTS, top_k=5, options=options) == before


def test_load_refuses_another_model(m3_index, tmp_path):
    from FlagEmbedding import BGEM3FlagModel

    folder, _ = m3_index
    other = BGEM3FlagModel(tiny_models.save_tiny_xlmr(str(tmp_path / "other-m3"), seed=1), devices="cpu",
                           use_fp16=False)
    with pytest.raises(ValueError, match=r"this index was built with .*bge-m3 \(M3Embedder\) and cannot be searched "
                                         r"with .*other-m3 \(M3Embedder\) \(different: model .*\); load it with the "
                                         r"embedder and settings it was built with"):
        RetrievalIndex.load(folder, other)


def test_load_refuses_other_settings(m3_index, tiny_xlmr_m3):
    from FlagEmbedding import BGEM3FlagModel

    folder, _ = m3_index
    shorter = BGEM3FlagModel(tiny_xlmr_m3, devices="cpu", use_fp16=False, passage_max_length=16)
    with pytest.raises(ValueError, match=r"\(different: passage_max_length 512 != 16"):
        RetrievalIndex.load(folder, shorter)


def test_m3_representations_need_an_m3_model(tiny_bert, tmp_path):
    from FlagEmbedding import FlagModel

    model = FlagModel(tiny_bert, devices="cpu", use_fp16=False)
    with pytest.raises(ValueError, match=r"^sparse search needs an M3 model \(BGEM3FlagModel, --embedder_model_class "
                                         r"encoder-only-m3\); BaseEmbedder has only dense vectors"):
        RetrievalIndex.build(str(tmp_path), DOCIDS, TEXTS, embedder=model, representations=["dense", "sparse"])
    index = RetrievalIndex.build(str(tmp_path), DOCIDS, TEXTS, embedder=model, representations=["dense"])
    with pytest.raises(ValueError, match=r"needs the bm25 representation\(s\), which the index does not hold"):
        index.search(QUERY_TEXTS, options=SearchOptions(method="hybrid"))


def test_bm25_equals_bm25s_directly(tmp_path):
    import bm25s

    index = RetrievalIndex.build(str(tmp_path), DOCIDS, TEXTS, representations=["bm25"])
    ids, scores = index.search(QUERY_TEXTS, top_k=5, options=SearchOptions(method="bm25"))
    reference = bm25s.BM25()
    reference.index(bm25s.tokenize(TEXTS, stopwords="en", show_progress=False), show_progress=False)
    rows, values = reference.retrieve(bm25s.tokenize(QUERY_TEXTS, stopwords="en", show_progress=False), k=5,
                                      show_progress=False)
    for row in range(len(QUERY_TEXTS)):
        keep = values[row] > 0
        assert ids[row] == [DOCIDS[i] for i in rows[row][keep]]
        np.testing.assert_allclose(scores[row], values[row][keep], rtol=1e-6)
    assert RetrievalIndex.load(str(tmp_path)).search(QUERY_TEXTS, 5, SearchOptions(method="bm25")) == (ids, scores)


def test_faiss_factory_and_exact_search(m3, tmp_path):
    exact = RetrievalIndex.build(str(tmp_path), DOCIDS, TEXTS, embedder=m3)
    flat = RetrievalIndex.build(str(tmp_path), DOCIDS, TEXTS, embedder=m3, faiss_factory="IDMap,Flat")
    exact_ids, exact_scores = exact.search(QUERY_TEXTS, top_k=4)
    flat_ids, flat_scores = flat.search(QUERY_TEXTS, top_k=4)
    assert flat_ids == exact_ids
    np.testing.assert_allclose(flat_scores, exact_scores, rtol=1e-5)
    saved = [name for root, _, names in os.walk(tmp_path) for name in names if name.startswith("faiss-")]
    assert len(saved) == 1
    vectors = m3.encode_corpus(TEXTS)["dense_vecs"]
    queries = m3.encode_queries(QUERY_TEXTS)["dense_vecs"]
    brute = queries @ vectors.T
    for row in range(len(QUERY_TEXTS)):
        assert exact_ids[row] == [DOCIDS[j] for j in np.argsort(-brute[row], kind="stable")[:4]]


def test_search_option_errors():
    with pytest.raises(ValueError,
                       match=r"^method must be one of dense, sparse, colbert, bm25, hybrid, all, got 'x'\.$"):
        SearchOptions(method="x")
    with pytest.raises(ValueError,
                       match=r"^hybrid_methods must be two or more of dense, sparse, bm25, got \['dense'\]\.$"):
        SearchOptions(method="hybrid", hybrid_methods=["dense"])
    with pytest.raises(ValueError, match=r"^fusion_weights has 1 values for 2 hybrid_methods\.$"):
        SearchOptions(method="hybrid", hybrid_methods=["dense", "bm25"], fusion_weights=[1.0])
    assert SearchOptions(method="hybrid", fusion="rrf").tag(m3=False) == "hybrid-rrf60-dense+bm25"
    assert SearchOptions(method="all").tag(m3=True) == "all1-0.3-1-top100-weighted-dense=1+sparse=0.3"


def test_exact_dense_search_over_shards_equals_one_block():
    from FlagEmbedding.retrieval import DenseIndex

    rng = np.random.default_rng(0)
    corpus = rng.standard_normal((50, 8)).astype(np.float32)
    queries = rng.standard_normal((4, 8)).astype(np.float32)
    one_scores, one_rows = DenseIndex([corpus]).search(queries, 7)
    shard_scores, shard_rows = DenseIndex([corpus[i:i + 6] for i in range(0, 50, 6)]).search(queries, 7)
    np.testing.assert_array_equal(shard_rows, one_rows)
    np.testing.assert_allclose(shard_scores, one_scores, rtol=1e-6)
    brute = queries @ corpus.T
    np.testing.assert_array_equal(one_rows, np.argsort(-brute, axis=1, kind="stable")[:, :7])


def test_queries_and_corpus_as_any_sequence_of_str(m3_index, tmp_path):
    """numpy string arrays and tuples are taken like lists (same results); a non-str item is named by position."""
    _, index = m3_index
    options = SearchOptions(method="all")
    expected = index.search(QUERY_TEXTS, top_k=3, options=options)
    assert index.search(np.array(QUERY_TEXTS), top_k=3, options=options) == expected
    assert index.search(tuple(QUERY_TEXTS), top_k=3, options=options) == expected
    with pytest.raises(TypeError, match=r"^`queries\[1\]` must be a str, got int"):
        index.search([QUERY_TEXTS[0], 3], top_k=3)
    with pytest.raises(TypeError, match=r"^`queries` must be a sequence of str \(a list of queries\), got a single str"):
        index.search(QUERY_TEXTS[0], top_k=3)
    with pytest.raises(TypeError, match=r"^`texts\[0\]` must be a str, got NoneType"):
        RetrievalIndex.build(str(tmp_path / "bad"), ["d"], [None], representations=["bm25"])
