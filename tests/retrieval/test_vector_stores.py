"""RetrievalIndex with its representations in Qdrant (embedded local mode) and Milvus Lite, against the in-process
index as the reference: equal rankings and scores, the refusal of another model, resumable loads, add / delete."""
from __future__ import annotations

import json
import os
import random

import numpy as np
import pytest

from FlagEmbedding.retrieval import RetrievalIndex, SearchOptions, stores
from FlagEmbedding.utils.errors import InputError
from tests import tiny_models

pytest.importorskip("qdrant_client")
pytest.importorskip("pymilvus")

WORDS = sorted({w.strip(".,?!:;").lower() for line in tiny_models.CORPUS for w in line.split()} - {""})
_random = random.Random(7)
DOCIDS = [f"doc{i}" for i in range(60)]
TEXTS = [" ".join(_random.choices(WORDS, k=_random.randint(4, 14))) for _ in DOCIDS]
QUERIES = [" ".join(_random.choices(WORDS, k=_random.randint(2, 5))) for _ in range(40)]
MODEL_REPS = ["dense", "sparse", "colbert"]
DATABASES = ["qdrant", "milvus"]


@pytest.fixture(scope="module")
def m3(tmp_path_factory):
    """A tiny random M3 whose matrices are drawn with std 0.5: with the usual 0.02 every dense vector is almost the
    same (all scores within 1e-5 of each other), and rankings would be float rounding noise."""
    import torch
    from transformers import XLMRobertaModel

    from FlagEmbedding import BGEM3FlagModel

    path = tiny_models.save_tiny_xlmr(str(tmp_path_factory.mktemp("models") / "bge-m3"))
    model = XLMRobertaModel.from_pretrained(path)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() == 2:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    model.save_pretrained(path)
    sparse = torch.nn.Linear(32, 1)
    with torch.no_grad():  # most tokens get a positive lexical weight, of varied size
        sparse.weight.copy_(torch.randn(sparse.weight.shape, generator=generator) * 0.1)
        sparse.bias.fill_(0.3)
    torch.save(sparse.state_dict(), os.path.join(path, "sparse_linear.pt"))
    return BGEM3FlagModel(path, devices="cpu", use_fp16=False, batch_size=16)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return str(tmp_path_factory.mktemp("vdb"))


@pytest.fixture(scope="module")
def indexes(m3, folder):
    """The same corpus in memory, Qdrant and Milvus (one folder: the corpus is encoded once)."""
    return {backend: RetrievalIndex.build(folder, DOCIDS, TEXTS, embedder=m3, representations=MODEL_REPS,
                                          shard_rows=25, backend=backend) for backend in ["memory", *DATABASES]}


TIE = 1e-5  # scores closer than this are ties: the tiny random model's dense vectors are almost parallel, and the
#             databases' float32 sums differ from ours in the 7th digit


def same_order(ids, scores, got_ids, got_scores):
    """Whether one query's ranking ``got`` equals the reference up to ties: scores equal rank by rank (within
    :data:`TIE`) and, at every cut where the reference's next score is lower by more than :data:`TIE`, the
    same documents above the cut."""
    if len(ids) != len(got_ids) or not np.allclose(got_scores, scores, atol=TIE, rtol=0):
        return False
    return all(set(ids[:cut]) == set(got_ids[:cut]) for cut in range(1, len(ids))
               if scores[cut - 1] - scores[cut] > TIE)


def agreement(reference, other):
    """Share of the queries whose rankings are the :func:`same_order`."""
    return np.mean([same_order(*row) for row in zip(*reference, *other)])


@pytest.mark.parametrize("method", ["dense", "sparse"])
def test_first_stages_equal_memory(indexes, method):
    ids, scores = indexes["memory"].search(QUERIES, top_k=10, options=SearchOptions(method=method))
    assert sum(map(len, ids)) > len(QUERIES) * 3  # the reference finds documents
    for backend in DATABASES:
        got = indexes[backend].search(QUERIES, top_k=10, options=SearchOptions(method=method))
        assert agreement((ids, scores), got) == 1.0, backend


@pytest.mark.parametrize("options", [
    SearchOptions(method="colbert", rerank_top_k=8),
    SearchOptions(method="hybrid"),
    SearchOptions(method="hybrid", fusion="rrf", rrf_k=10),
    SearchOptions(method="all", rerank_top_k=8),
    SearchOptions(method="all", fusion="rrf", rerank_top_k=8),
], ids=["colbert", "hybrid-weighted", "hybrid-rrf", "all-weighted", "all-rrf"])
def test_fused_orders_equal_memory_on_99_percent_of_queries(indexes, options):
    reference = indexes["memory"].search(QUERIES, top_k=10, options=options)
    for backend in DATABASES:
        assert agreement(reference, indexes[backend].search(QUERIES, top_k=10, options=options)) >= 0.99, backend


def test_qdrant_fuses_rrf_in_the_database(indexes, monkeypatch):
    calls = []
    store = indexes["qdrant"].store
    original = type(store).rrf
    monkeypatch.setattr(type(store), "rrf", lambda self, *a: calls.append(a) or original(self, *a))
    indexes["qdrant"].search(QUERIES[:3], top_k=5, options=SearchOptions(method="hybrid", fusion="rrf"))
    assert len(calls) == 1 and sorted(calls[0][0]) == ["dense", "sparse"] and calls[0][1:] == (5, 60)


def test_stores_hold_what_they_can(indexes):
    assert indexes["qdrant"].stored == ("dense", "sparse", "colbert") and indexes["qdrant"].parts == {}
    assert indexes["milvus"].stored == ("dense", "sparse") and list(indexes["milvus"].parts) == ["colbert"]
    assert indexes["qdrant"].store.count() == indexes["milvus"].store.count() == len(DOCIDS)


def test_load_reopens_the_collection_and_refuses_another_model(indexes, folder, m3, tiny_bert):
    from FlagEmbedding import FlagModel

    for backend in DATABASES:
        index = RetrievalIndex.load(folder, m3, backend=backend)
        assert index.store.collection == indexes[backend].store.collection
        assert index.stored == indexes[backend].stored
        options = SearchOptions(method="all", rerank_top_k=8)
        assert agreement(indexes["memory"].search(QUERIES, 10, options), index.search(QUERIES, 10, options)) == 1.0
    other = FlagModel(tiny_bert, devices="cpu", use_fp16=False)
    with pytest.raises(InputError, match=r"this index was built with .*bge-m3 \(M3Embedder\) and cannot be searched "
                                         r"with .*bge-base-en-v1.5 \(.*\) \(different: .*\); load it with the "
                                         r"embedder and settings it was built with"):
        RetrievalIndex.load(folder, other, backend="qdrant")


@pytest.mark.parametrize("backend", DATABASES)
def test_a_collection_built_by_another_model_is_refused(tmp_path, m3, tiny_bert, backend):
    from FlagEmbedding import FlagModel

    url = str(tmp_path / "db") if backend == "qdrant" else str(tmp_path / "db.db")
    RetrievalIndex.build(str(tmp_path / "a"), DOCIDS[:10], TEXTS[:10], embedder=m3, backend=backend, url=url,
                         collection="shared")
    other = FlagModel(tiny_bert, devices="cpu", use_fp16=False)
    with pytest.raises(InputError) as error:
        RetrievalIndex.build(str(tmp_path / "b"), DOCIDS[:10], TEXTS[:10], embedder=other, backend=backend, url=url,
                             collection="shared")
    assert str(error.value).startswith(f"{backend} collection 'shared' at {url}: this index was built with ")
    assert "bge-m3 (M3Embedder) and cannot be searched with" in str(error.value)
    assert stores.open_store(backend, url, "shared").count() == 10  # untouched


@pytest.mark.parametrize("backend", DATABASES)
def test_a_killed_load_resumes_without_duplicates(tmp_path, m3, monkeypatch, backend):
    folder = str(tmp_path / "index")
    monkeypatch.setattr(stores, "LOAD_BATCH_ROWS", 16)
    store_class = type(stores.open_store(backend, stores.default_url(backend, folder), "probe"))
    original = store_class.upsert
    batches = []

    def dying(self, docids, rows):
        if len(batches) == 2:
            raise KeyboardInterrupt("killed")
        batches.append(list(docids))
        original(self, docids, rows)

    monkeypatch.setattr(store_class, "upsert", dying)
    with pytest.raises(KeyboardInterrupt):
        RetrievalIndex.build(folder, DOCIDS, TEXTS, embedder=m3, representations=["dense", "sparse"],
                             backend=backend, collection="resume")
    state = json.load(open(os.path.join(folder, f"store-{backend}-resume.json")))
    assert (state["loaded"], state["complete"]) == (32, False)
    batches.clear()
    monkeypatch.setattr(store_class, "upsert", lambda self, docids, rows: batches.append(list(docids))
                        or original(self, docids, rows))
    index = RetrievalIndex.build(folder, DOCIDS, TEXTS, embedder=m3, representations=["dense", "sparse"],
                                 backend=backend, collection="resume")
    assert batches[0][0] == DOCIDS[32] and sum(map(len, batches)) == len(DOCIDS) - 32  # only the rest is loaded
    assert index.store.count() == len(DOCIDS)
    reference = RetrievalIndex.build(folder, DOCIDS, TEXTS, embedder=m3, representations=["dense", "sparse"])
    assert index.search(QUERIES, top_k=10)[0] == reference.search(QUERIES, top_k=10)[0]
    batches.clear()
    RetrievalIndex.build(folder, DOCIDS, TEXTS, embedder=m3, representations=["dense", "sparse"], backend=backend,
                         collection="resume")
    assert batches == []  # a complete load is not repeated


@pytest.mark.parametrize("backend", DATABASES)
def test_add_and_delete_change_the_results(tmp_path, m3, backend):
    index = RetrievalIndex.build(str(tmp_path), DOCIDS, TEXTS, embedder=m3, representations=["dense", "sparse"],
                                 backend=backend)
    query = QUERIES[0]
    before = index.search([query], top_k=3)[0][0]
    index.add(["new"], [query])  # the query itself is the best dense match by far
    ids, scores = index.search([query], top_k=3)
    assert ids[0][0] == "new" and scores[0][0] == pytest.approx(1.0, abs=1e-5)
    weights = m3.encode_queries([query], return_dense=False, return_sparse=True)["lexical_weights"][0]
    ids, scores = index.search([query], top_k=len(DOCIDS) + 1, options=SearchOptions(method="sparse"))
    assert dict(zip(ids[0], scores[0]))["new"] == pytest.approx(m3.compute_lexical_matching_score(weights, weights),
                                                                abs=1e-5)
    assert index.store.count() == len(DOCIDS) + 1
    index.delete(["new", before[0]])
    assert index.search([query], top_k=2)[0][0] == before[1:3]
    assert index.store.count() == len(DOCIDS) - 1


def test_add_refused_where_the_index_keeps_representations_in_process(indexes, tmp_path, m3):
    with pytest.raises(InputError, match="the memory backend is rebuild-only"):
        indexes["memory"].add(["x"], ["text"])
    with pytest.raises(InputError, match=r"this index also holds colbert in process"):
        indexes["milvus"].delete(["doc1"])
    with pytest.raises(InputError, match="faiss_factory applies to the memory backend"):
        RetrievalIndex.build(str(tmp_path), DOCIDS, TEXTS, embedder=m3, backend="qdrant", faiss_factory="HNSW32")
    with pytest.raises(InputError, match="embedding_precision / colbert_precision apply to the memory backend; qdrant"):
        RetrievalIndex.build(str(tmp_path), DOCIDS, TEXTS, embedder=m3, backend="qdrant", embedding_precision="int8")
    with pytest.raises(InputError, match="backend must be one of memory, qdrant, milvus, got 'redis'"):
        RetrievalIndex.build(str(tmp_path), DOCIDS, TEXTS, embedder=m3, backend="redis")


def test_cli_index_backend_qdrant_equals_memory(tmp_path, tiny_bert):
    from tests.helpers.benchmarks import run_beir
    from tests.helpers.files import read_json

    run_beir(tmp_path, tiny_bert, "--search_top_k", "5", write_data=True)
    run_beir(tmp_path, tiny_bert, "--search_top_k", "5", "--index_backend", "qdrant")
    out = tmp_path / "out"
    assert sorted(os.listdir(out)) == ["bge-base-en-v1.5", "bge-base-en-v1.5@dense-qdrant", "vector_db"]
    memory = read_json(str(out / "bge-base-en-v1.5" / "NoReranker" / "scifact-test.json"))["search_results"]
    qdrant = read_json(str(out / "bge-base-en-v1.5@dense-qdrant" / "NoReranker" / "scifact-test.json"))
    for qid, hits in memory.items():
        got = qdrant["search_results"][qid]
        assert same_order(list(hits), list(hits.values()), list(got), list(got.values())), qid
    assert os.path.isdir(out / "vector_db" / "qdrant")  # the embedded database, under the output folder
    cache = tmp_path / "embd" / "bge-base-en-v1.5" / "scifact"
    assert len([name for name in os.listdir(cache) if name.startswith("store-qdrant-flagembedding_")]) == 1


@pytest.mark.parametrize("flags, message", [
    (["--index_url", "http://localhost:6333"],
     "--index_url and --index_collection apply to --index_backend qdrant or milvus, not memory."),
    (["--index_backend", "milvus", "--faiss_index_factory", "HNSW32"],
     "--faiss_index_factory applies to --index_backend memory; milvus searches exactly."),
    (["--index_backend", "qdrant", "--index_collection", "my-docs"],
     "--index_collection 'my-docs' must be letters, digits and underscores, not starting with a digit"),
    (["--index_backend", "qdrant", "--embedding_precision", "binary"],
     "--embedding_precision / --colbert_precision apply to --index_backend memory; qdrant holds float vectors."),
])
def test_cli_refuses_bad_index_flags_before_loading_a_model(tmp_path, flags, message):
    from tests.helpers.benchmarks import NO_MODEL, run_beir

    with pytest.raises(InputError) as error:  # NO_MODEL: the run must fail before loading one
        run_beir(tmp_path, NO_MODEL, *flags, write_data=True)
    assert str(error.value).startswith(message)


@pytest.mark.parametrize("backend, module, packages", [("qdrant", "qdrant_client.models", "'qdrant-client'"),
                                                       ("milvus", "pymilvus", "'pymilvus' and 'milvus-lite'")])
def test_a_missing_client_is_one_error_naming_the_install(tmp_path, monkeypatch, backend, module, packages):
    import sys

    from FlagEmbedding.utils.errors import MissingPackageError, user_error_message

    monkeypatch.setitem(sys.modules, module, None)  # importing it raises ImportError
    with pytest.raises(MissingPackageError) as error:
        stores.open_store(backend, str(tmp_path / "not-created"), "docs")
    assert user_error_message(error.value) == (f"--index_backend {backend} needs the optional package(s) {packages}; "
                                               f"install with `pip install \"FlagEmbedding[{backend}]\"`.")
    assert not os.path.exists(tmp_path / "not-created")
