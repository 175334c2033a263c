"""An M3 index encodes each corpus shard once for dense + sparse + ColBERT, into the per-representation caches
(same folders and rows as independent per-representation encodes), and resumes shard by shard."""
from __future__ import annotations

import os

import numpy as np
import pytest

from FlagEmbedding.retrieval.embedding_cache import CorpusEmbeddingCache, embedder_fingerprint
from FlagEmbedding.abc.evaluation.naming import passage_text
from FlagEmbedding.retrieval import RetrievalIndex, SearchOptions
from FlagEmbedding.retrieval import colbert as colbert_rows
from FlagEmbedding.retrieval import sparse as sparse_rows
from tests.helpers.benchmarks import CORPUS, QUERIES

DOCIDS = list(CORPUS)
TEXTS = [passage_text(CORPUS[d]) for d in DOCIDS]
M3_PARTS = ["dense", "sparse", "colbert"]
SHARD_ROWS = 3  # 8 passages: shards of 3, 3 and 2 rows


class Killed(Exception):
    """Stands for a run killed in the middle of an encode call."""


@pytest.fixture(scope="module")
def m3(tiny_xlmr_m3):
    from FlagEmbedding import BGEM3FlagModel

    return BGEM3FlagModel(tiny_xlmr_m3, devices="cpu", use_fp16=False, batch_size=2, passage_max_length=64)


@pytest.fixture(scope="module")
def references(m3):
    """Per shard, the rows of each representation from its own encode call (the per-representation path)."""
    shards = [TEXTS[start:start + SHARD_ROWS] for start in range(0, len(TEXTS), SHARD_ROWS)]
    dim = m3.model.colbert_linear.out_features
    return {
        "dense": [m3.encode_corpus(shard)["dense_vecs"] for shard in shards],
        "sparse": [sparse_rows.padded_rows(m3.encode_corpus(shard, return_dense=False, return_sparse=True)
                                           ["lexical_weights"], m3.passage_max_length) for shard in shards],
        "colbert": [colbert_rows.padded_rows(m3.encode_corpus(shard, return_dense=False, return_colbert_vecs=True)
                                             ["colbert_vecs"], dim) for shard in shards],
    }


def caches(m3, folder):
    """The caches an index of ``m3`` uses, with the fingerprints written out here (the on-disk contract)."""
    model = embedder_fingerprint(m3)
    fingerprints = {"dense": model, "sparse": {**model, "representation": "sparse", "width": m3.passage_max_length},
                    "colbert": {**model, "representation": "colbert"}}
    return {name: CorpusEmbeddingCache(folder, fp, DOCIDS, TEXTS, shard_rows=SHARD_ROWS)
            for name, fp in fingerprints.items()}


def count_calls(monkeypatch, m3, fail_at=None):
    """Record ``(texts, return_dense, return_sparse, return_colbert_vecs)`` of each ``encode_corpus`` call;
    the call numbered ``fail_at`` raises as a killed run would."""
    calls = []
    original = m3.encode_corpus

    def encode_corpus(texts, **kwargs):
        calls.append((list(texts), kwargs.get("return_dense"), kwargs.get("return_sparse"),
                      kwargs.get("return_colbert_vecs")))
        if len(calls) == fail_at:
            raise Killed("killed")
        return original(texts, **kwargs)

    monkeypatch.setattr(m3, "encode_corpus", encode_corpus)
    return calls


def shard_texts(shard):
    return TEXTS[shard * SHARD_ROWS:(shard + 1) * SHARD_ROWS]


def assert_caches_equal(m3, folder, references):
    for name, cache in caches(m3, folder).items():
        assert os.path.isdir(cache.path), name
        for shard, expected in enumerate(references[name]):
            np.testing.assert_array_equal(np.load(cache.shard_path(shard)), expected, err_msg=f"{name} {shard}")


def test_one_encode_call_per_shard_for_all_representations(m3, references, tmp_path, monkeypatch):
    calls = count_calls(monkeypatch, m3)
    index = RetrievalIndex.build(str(tmp_path), DOCIDS, TEXTS, embedder=m3, representations=M3_PARTS,
                                 shard_rows=SHARD_ROWS)
    assert calls == [(shard_texts(shard), True, True, True) for shard in range(3)]
    assert_caches_equal(m3, str(tmp_path), references)
    assert sorted(index.parts) == sorted(M3_PARTS)


def test_a_deleted_shard_is_re_encoded_alone(m3, references, tmp_path, monkeypatch):
    folder = str(tmp_path)
    index = RetrievalIndex.build(folder, DOCIDS, TEXTS, embedder=m3, representations=M3_PARTS, shard_rows=SHARD_ROWS)
    options = SearchOptions(method="all", rerank_top_k=5)
    before = index.search(list(QUERIES.values()), top_k=5, options=options)
    os.remove(caches(m3, folder)["sparse"].shard_path(1))
    calls = count_calls(monkeypatch, m3)
    rebuilt = RetrievalIndex.build(folder, DOCIDS, TEXTS, embedder=m3, representations=M3_PARTS,
                                   shard_rows=SHARD_ROWS)
    assert calls == [(shard_texts(1), False, True, False)]
    assert_caches_equal(m3, folder, references)
    assert rebuilt.search(list(QUERIES.values()), top_k=5, options=options) == before


def test_a_killed_build_resumes_and_existing_caches_are_reused(m3, references, tmp_path, monkeypatch):
    folder = str(tmp_path)
    RetrievalIndex.build(folder, DOCIDS, TEXTS, embedder=m3, representations=["dense"], shard_rows=SHARD_ROWS)
    calls = count_calls(monkeypatch, m3, fail_at=2)
    with pytest.raises(Killed):
        RetrievalIndex.build(folder, DOCIDS, TEXTS, embedder=m3, representations=M3_PARTS, shard_rows=SHARD_ROWS)
    assert [call[1:] for call in calls] == [(False, True, True)] * 2
    monkeypatch.undo()
    calls = count_calls(monkeypatch, m3)
    RetrievalIndex.build(folder, DOCIDS, TEXTS, embedder=m3, representations=M3_PARTS, shard_rows=SHARD_ROWS)
    # the dense cache was complete: never asked for again; shard 0 was saved before the kill
    assert calls == [(shard_texts(1), False, True, True), (shard_texts(2), False, True, True)]
    assert_caches_equal(m3, folder, references)


def test_the_evaluation_cli_encodes_the_corpus_once(tiny_xlmr_m3, tmp_path, monkeypatch):
    from FlagEmbedding.inference.embedder.encoder_only.m3 import M3Embedder
    from tests.helpers.benchmarks import run_beir

    calls = []
    original = M3Embedder.encode_corpus

    def encode_corpus(self, corpus, *args, **kwargs):
        calls.append((len(corpus), kwargs.get("return_dense"), kwargs.get("return_sparse"),
                      kwargs.get("return_colbert_vecs")))
        return original(self, corpus, *args, **kwargs)

    monkeypatch.setattr(M3Embedder, "encode_corpus", encode_corpus)
    run_beir(tmp_path, tiny_xlmr_m3, "--embedder_model_class", "encoder-only-m3", "--search_method", "all",
             write_data=True)
    assert calls == [(len(CORPUS), True, True, True)]


def test_in_memory_index_encodes_once_and_searches_like_a_built_one(m3, tmp_path, monkeypatch):
    built = RetrievalIndex.build(str(tmp_path / "built"), DOCIDS, TEXTS, embedder=m3,
                                 representations=M3_PARTS + ["bm25"], shard_rows=len(DOCIDS))
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    calls = count_calls(monkeypatch, m3)
    memory = RetrievalIndex.in_memory(DOCIDS, TEXTS, m3, representations=M3_PARTS + ["bm25"])
    assert calls == [(TEXTS, True, True, True)]
    assert sorted(os.listdir(tmp_path)) == before  # nothing written
    for method in ("dense", "sparse", "colbert", "bm25", "all"):
        options = SearchOptions(method=method)
        assert memory.search(list(QUERIES.values()), 5, options) == built.search(list(QUERIES.values()), 5, options)


def test_two_ranks_share_the_one_pass_encode(tmp_path, tiny_xlmr_m3):
    """torchrun with 2 CPU processes and ``--search_method all``: the ranks split the shards, each encoded once
    for dense, sparse and ColBERT; caches and metrics equal those of one process."""
    import glob
    import sys

    from tests.evaluation import test_distributed as dist_tests
    from tests.helpers.benchmarks import write_library_layout
    from tests.helpers.files import read_json

    data = write_library_layout(str(tmp_path / "data"), corpus=dist_tests.CORPUS, queries=QUERIES,
                                qrels=dist_tests.QRELS_30)

    def argv(root):
        return dist_tests.cli_args(data, root, tiny_xlmr_m3, embedder_model_class="encoder-only-m3",
                                   search_method="all")

    def results(root):
        (path,) = glob.glob(os.path.join(root, "out", "bge-m3@all*", "NoReranker", "EVAL", "eval_results.json"))
        return read_json(path)

    single, two = str(tmp_path / "single"), str(tmp_path / "two")
    dist_tests.run([sys.executable, "-m", "FlagEmbedding.evaluation.custom", *argv(single)])
    result = dist_tests.run(dist_tests.torchrun(dist_tests.launcher(tmp_path), argv(two)))
    files = dist_tests.cache_files(two)
    assert files == dist_tests.cache_files(single)  # shards and manifests byte for byte, no leftover records
    assert len([name for name in files if name.endswith(".npy")]) == 3 * 15  # dense, sparse, colbert
    assert results(two) == results(single)
    for rank, count in ((0, 8), (1, 7)):
        assert result.stderr.count(f"Rank {rank} encoded {count} of 15 corpus shards") == 3
