"""Compact indexes: int8 / uint8 / binary dense codes (with rescoring) and unpadded int8 / int4 ColBERT stores,
checked against float search, against independently computed codes and scores, and for their refusals."""
from __future__ import annotations

import os

import numpy as np
import pytest

from FlagEmbedding.retrieval import RetrievalIndex, SearchOptions
from FlagEmbedding.retrieval import colbert
from FlagEmbedding.utils import quantization as q
from tests.tiny_models import CORPUS as SENTENCES

WORDS = " ".join(SENTENCES).replace(".", " ").replace("?", " ").split()
RNG = np.random.default_rng(0)
TEXTS = [" ".join(RNG.choice(WORDS, size=int(RNG.integers(3, 12)))) for _ in range(120)]
DOCIDS = [f"d{i}" for i in range(len(TEXTS))]
QUERIES = [" ".join(RNG.choice(WORDS, size=4)) for _ in range(20)]


@pytest.fixture(scope="module")
def model(tiny_bert):
    from FlagEmbedding import FlagModel

    return FlagModel(tiny_bert, devices="cpu", use_fp16=False, pooling_method="mean")


@pytest.fixture(scope="module")
def vectors(model):
    return model.encode_corpus(TEXTS), model.encode_queries(QUERIES)


def overlap(a, b):
    return np.mean([len(set(x) & set(y)) / len(x) for x, y in zip(a, b)])


def test_int8_and_uint8_search_equal_dequantized_search(model, vectors, tmp_path):
    docs, queries = vectors
    float_ids, _ = RetrievalIndex.build(str(tmp_path), DOCIDS, TEXTS, embedder=model).search(QUERIES, 10)
    ranges = q.calibration_ranges(docs)  # every row is the calibration sample of a corpus this small
    for precision in ("int8", "uint8"):
        index = RetrievalIndex.build(str(tmp_path), DOCIDS, TEXTS, embedder=model, embedding_precision=precision)
        ids, scores = index.search(QUERIES, 10)
        restored = q.dequantize(q.quantize_embeddings(docs, precision, ranges=ranges), precision, ranges)
        for row, query in enumerate(queries):
            expected = [DOCIDS[j] for j in np.argsort(-(restored @ query), kind="stable")[:10]]
            assert ids[row] == expected
            np.testing.assert_allclose(scores[row], [restored[DOCIDS.index(d)] @ query for d in ids[row]],
                                       rtol=1e-4, atol=1e-5)
        assert overlap(ids, float_ids) >= 0.9  # top-10 overlap with float search: 0.985 measured here
        codes = np.load(os.path.join(index.parts["dense"].exact.blocks[0].filename))
        assert codes.dtype == (np.int8 if precision == "int8" else np.uint8) and codes.shape == docs.shape


def test_binary_search_rescores_hamming_candidates(model, vectors, tmp_path):
    docs, queries = vectors
    float_ids, _ = RetrievalIndex.build(str(tmp_path), DOCIDS, TEXTS, embedder=model).search(QUERIES, 10)
    index = RetrievalIndex.build(str(tmp_path), DOCIDS, TEXTS, embedder=model, embedding_precision="binary")
    ranges = q.calibration_ranges(docs)
    restored = q.dequantize(q.quantize_embeddings(docs, "int8", ranges=ranges), "int8", ranges)
    bits = (docs > 0)
    for multiplier in (1, 4, 12):
        ids, scores = index.search(QUERIES, 10, SearchOptions(rescore_multiplier=multiplier))
        for row, query in enumerate(queries):
            hamming = (bits != (query > 0)).sum(axis=1)
            depth = 10 * multiplier
            # the candidates: the `depth` nearest by Hamming distance (ties at the cut may go either way)
            cut = np.sort(hamming)[depth - 1]
            assert all(hamming[DOCIDS.index(d)] <= cut for d in ids[row])
            exact = [restored[DOCIDS.index(d)] @ query for d in ids[row]]
            np.testing.assert_allclose(scores[row], exact, rtol=1e-4, atol=1e-5)  # exact rescoring
            assert scores[row] == sorted(scores[row], reverse=True)
        if multiplier == 12:  # every document rescored: the int8 ranking
            int8_ids, _ = RetrievalIndex.build(str(tmp_path), DOCIDS, TEXTS, embedder=model,
                                               embedding_precision="int8").search(QUERIES, 10)
            assert ids == int8_ids
    # top-10 overlap with float search (32 dimensions only: 32 bits lose much): x4 0.635, x1 0.31 measured here
    rescored, single = (overlap(index.search(QUERIES, 10, SearchOptions(rescore_multiplier=m))[0], float_ids)
                        for m in (4, 1))
    assert rescored >= 0.55 and rescored > single + 0.2
    folder = os.path.dirname(index.parts["dense"].codes.filename)
    assert os.path.basename(folder) == "quantized-binary"
    assert np.load(os.path.join(folder, "bits.npy")).shape == (len(TEXTS), (docs.shape[1] + 7) // 8)


def test_precision_is_part_of_the_index_and_refused_when_it_differs(model, tmp_path, monkeypatch):
    folder = str(tmp_path)
    built = RetrievalIndex.build(folder, DOCIDS, TEXTS, embedder=model, embedding_precision="int8")
    before = built.search(QUERIES, 5)
    monkeypatch.setattr(model, "encode_corpus", lambda *a, **k: pytest.fail("re-encoded"))
    loaded = RetrievalIndex.load(folder, model, embedding_precision="int8")
    assert loaded.search(QUERIES, 5) == before
    with pytest.raises(ValueError, match=r"index-[0-9a-f]{16}\.json: this index was built with embedding_precision "
                                         r"'int8', not 'binary'; load it with embedding_precision='int8', or build "
                                         r"it again with embedding_precision='binary'\.$"):
        RetrievalIndex.load(folder, model, embedding_precision="binary")
    codes = os.path.join(os.path.dirname(built.parts["dense"].codes.filename), "codes-int8.npy")
    with open(codes, "r+b") as handle:  # a damaged code file is rebuilt, not searched
        handle.seek(-1, os.SEEK_END)
        handle.write(b"\x7f")
    assert RetrievalIndex.load(folder, model).search(QUERIES, 5) == before
    with pytest.raises(ValueError, match="faiss_factory 'HNSW32' applies to float32 vectors"):
        RetrievalIndex.build(folder, DOCIDS, TEXTS, embedder=model, faiss_factory="HNSW32", embedding_precision="int8")
    with pytest.raises(ValueError, match="^embedding_precision must be one of float32, int8, uint8, binary, ubinary"):
        RetrievalIndex.build(folder, DOCIDS, TEXTS, embedder=model, embedding_precision="int4")


@pytest.fixture(scope="module")
def m3(tiny_xlmr_m3):
    from FlagEmbedding import BGEM3FlagModel

    return BGEM3FlagModel(tiny_xlmr_m3, devices="cpu", use_fp16=False, batch_size=8)


@pytest.mark.parametrize("precision,tolerance", [("int8", 0.01), ("int4", 0.1)])
def test_unpadded_colbert_scores_match_float16(m3, tmp_path, precision, tolerance):
    texts, docids = TEXTS[:30] + [""], DOCIDS[:31]  # an empty passage: CLS only, so no token vectors
    padded = RetrievalIndex.build(str(tmp_path), docids, texts, embedder=m3, representations=["dense", "colbert"],
                                  shard_rows=8)
    compact = RetrievalIndex.build(str(tmp_path), docids, texts, embedder=m3, representations=["dense", "colbert"],
                                   shard_rows=8, colbert_precision=precision)
    assert isinstance(padded.parts["colbert"], colbert.ColbertStore)
    assert isinstance(compact.parts["colbert"], colbert.TokenColbertStore)
    reps = padded.encode_queries(QUERIES[:5], ["colbert"])
    rows = list(range(len(docids)))[::-1]
    for position in range(5):
        expected = padded.parts["colbert"].score(reps["colbert"][position], rows)
        got = compact.parts["colbert"].score(reps["colbert"][position], rows)
        np.testing.assert_allclose(got, expected, atol=tolerance)
    options = SearchOptions(method="colbert", colbert_precision=precision)
    assert compact.search(QUERIES, 5, options)[0] is not None
    sizes = {}
    for name, index in (("padded", padded), ("compact", compact)):
        store = index.parts["colbert"]
        blocks = store.rows.blocks if name == "padded" else store.blocks
        sizes[name] = sum(os.path.getsize(block.filename) for block in blocks)
    assert sizes["compact"] < sizes["padded"] / (2 if precision == "int8" else 3)
    loaded = RetrievalIndex.load(str(tmp_path), m3, colbert_precision=precision)
    assert isinstance(loaded.parts["colbert"], colbert.TokenColbertStore)
    assert isinstance(RetrievalIndex.load(str(tmp_path), m3, colbert_precision="float16").parts["colbert"],
                      colbert.ColbertStore)  # the padded float16 store of earlier releases is still read


def test_token_rows_layout_and_cache_check():
    rng = np.random.default_rng(1)
    passages = [rng.standard_normal((n, 6)).astype(np.float32) for n in (2, 0, 3)]
    rows = colbert.token_rows(passages, 6, "int8")
    assert rows.dtype == np.int8 and rows.shape == (6, 6 + colbert.TOKEN_META_BYTES)
    assert np.ascontiguousarray(rows[:, -4:]).view(np.int32).ravel().tolist() == [0, 0, 1, 2, 2, 2]
    store = colbert.TokenColbertStore([rows], 6, "int8")
    assert store.ntotal == 3 and len(store.tokens(1)) == 1
    query = rng.standard_normal((2, 6)).astype(np.float32)
    expected = [(query @ p.T).max(axis=1).mean() if len(p) else 0.0 for p in passages]
    np.testing.assert_allclose(store.score(query, [0, 1, 2]), expected, atol=0.05)
    cache = colbert.TokenShardCache("/nonexistent", {}, ["a", "b", "c"], ["x", "y", "z"], dim=6, precision="int8")
    assert cache.shape_ok(rows, 3) and not cache.shape_ok(rows, 4) and not cache.shape_ok(rows[:, 1:], 3)


def test_evaluation_flags():
    from FlagEmbedding.abc.evaluation.arguments import AbsEvalArgs

    args = AbsEvalArgs(eval_name="beir", embedding_precision="binary", rescore_multiplier=8)
    options = args.search_options()
    assert (options.embedding_precision, options.rescore_multiplier) == ("binary", 8)
    assert options.tag(False) == "dense-binary-rescore8"
    with pytest.raises(ValueError, match=r"^--colbert_precision does not apply to this run \(--search_method dense"):
        AbsEvalArgs(eval_name="beir", colbert_precision="int8")
    with pytest.raises(ValueError, match=r"^--rescore_multiplier does not apply"):
        AbsEvalArgs(eval_name="beir", embedding_precision="int8", rescore_multiplier=2)
    assert AbsEvalArgs(eval_name="beir", search_method="colbert", colbert_precision="int4").search_options().tag(
        True) == "colbert-top100-colbert-int4"


def test_cli_precisions_get_their_own_folders_and_reuse_the_float_cache(tmp_path, tiny_bert):
    from tests.helpers.benchmarks import run_beir
    from tests.helpers.files import read_json

    run_beir(tmp_path, tiny_bert, "--search_top_k", "5", write_data=True)
    run_beir(tmp_path, tiny_bert, "--search_top_k", "5", "--embedding_precision", "int8", write_data=True)
    run_beir(tmp_path, tiny_bert, "--search_top_k", "5", "--embedding_precision", "binary", "--rescore_multiplier",
             "2", write_data=True)
    assert sorted(os.listdir(tmp_path / "out")) == [
        "bge-base-en-v1.5", "bge-base-en-v1.5@dense-binary-rescore2-depth5", "bge-base-en-v1.5@dense-int8"]
    cache = tmp_path / "embd" / "bge-base-en-v1.5" / "scifact"
    dense = [n for n in os.listdir(cache) if os.path.isdir(cache / n)]
    assert len(dense) == 1  # one float cache, quantized beside its shards
    assert sorted(n for n in os.listdir(cache / dense[0]) if n.startswith("quantized-")) == [
        "quantized-binary", "quantized-int8"]
    results = {name: read_json(str(tmp_path / "out" / name / "NoReranker" / "scifact-test.json"))["search_results"]
               for name in os.listdir(tmp_path / "out")}
    floats, int8, binary = (results[f"bge-base-en-v1.5{tag}"] for tag in ("", "@dense-int8",
                                                                          "@dense-binary-rescore2-depth5"))
    # The tiny random model puts every passage within ~1e-5 cosine of every other, so ranks among them are noise
    # (the rankings are checked against dequantized search above). What holds here: each int8 score is the float
    # score within the quantization error, half a bucket per dimension (|q . (x - x')| <= |step| / 2 for a unit
    # query), and the binary run, rescoring 2 x 5 >= 8 candidates, finds the int8 top 5 of the whole corpus.
    low, high = np.load(cache / dense[0] / "quantized-int8" / "ranges.npy")
    bound = 0.5 * float(np.linalg.norm((high - low) / 255)) + 1e-6  # 1.9e-5 here; errors up to 3e-6 measured
    for qid in floats:
        assert len(floats[qid]) == len(int8[qid]) == len(binary[qid]) == 5  # two top 5 of 8 share 2 or more
        assert all(abs(int8[qid][docid] - floats[qid][docid]) <= bound for docid in set(floats[qid]) & set(int8[qid]))
        cut = min(int8[qid].values()) - 1e-6  # float32 summation order differs between the two scorings
        assert all(score >= cut and abs(score - int8[qid].get(docid, score)) <= 1e-6
                   for docid, score in binary[qid].items())


def test_a_padded_float16_store_is_converted_not_reencoded(m3, tmp_path, monkeypatch):
    texts, docids = TEXTS[:20], DOCIDS[:20]
    padded = RetrievalIndex.build(str(tmp_path), docids, texts, embedder=m3, representations=["dense", "colbert"],
                                  shard_rows=8)
    monkeypatch.setattr(m3, "encode_corpus", lambda *a, **k: pytest.fail("re-encoded"))
    converted = RetrievalIndex.build(str(tmp_path), docids, texts, embedder=m3, representations=["dense", "colbert"],
                                     shard_rows=8, colbert_precision="int8")
    dim = m3.model.colbert_linear.out_features
    unpadded = [[row.reshape(-1, dim)[np.any(row.reshape(-1, dim) != 0, axis=1)] for row in block]
                for block in padded.parts["colbert"].rows.blocks]  # the padding rows dropped by hand
    reference = colbert.TokenColbertStore([colbert.token_rows(block, dim, "int8") for block in unpadded], dim, "int8")
    query = np.random.default_rng(2).standard_normal((3, dim)).astype(np.float32)
    rows = list(range(20))
    np.testing.assert_array_equal(converted.parts["colbert"].score(query, rows), reference.score(query, rows))
