"""Index integrity and robustness: every file an index reads is checked against the manifest (a changed file is
rebuilt or refused, never searched), queries without BM25 terms, and concurrent writers of one folder."""
from __future__ import annotations

import glob
import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest

from FlagEmbedding.abc.evaluation.naming import passage_text
from FlagEmbedding.retrieval import BM25Index, BM25Params, RetrievalIndex, SearchOptions
from FlagEmbedding.retrieval.manifest import index_key, read_manifest
from FlagEmbedding.utils.errors import InputError, IntegrityError
from tests.helpers import REPO
from tests.helpers.benchmarks import CORPUS, QUERIES

DOCIDS = list(CORPUS)
TEXTS = [passage_text(CORPUS[d]) for d in DOCIDS]
QUERY_TEXTS = list(QUERIES.values())
BM25 = SearchOptions(method="bm25")
HYBRID = SearchOptions(method="hybrid", hybrid_methods=["dense", "bm25"])


@pytest.fixture(scope="module")
def embedder(tiny_bert):
    from FlagEmbedding import FlagModel

    return FlagModel(tiny_bert, devices="cpu", use_fp16=False, batch_size=4)


def manifest_of(folder: str) -> str:
    (path,) = glob.glob(os.path.join(folder, "index-*.json"))
    return path


def bm25_file(folder: str, name: str) -> str:
    (path,) = glob.glob(os.path.join(folder, "bm25-*", name))
    return path


def faiss_file(folder: str) -> str:
    (path,) = glob.glob(os.path.join(folder, "*", "faiss-*.index"))
    return path


def overwrite_bytes(path: str, offset: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def rewrite_json(path: str, change) -> None:
    with open(path, encoding="utf-8") as f:
        content = json.load(f)
    change(content)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(content, f)


# ---------------------------------------------------------------------------------------------- BM25 and faiss
def test_manifest_records_a_checksum_of_every_file_the_index_reads(embedder, tmp_path):
    folder = str(tmp_path)
    RetrievalIndex.build(folder, DOCIDS, TEXTS, embedder=embedder, representations=["dense", "bm25"],
                         faiss_factory="IDMap,Flat")
    manifest = read_manifest(manifest_of(folder))
    bm25_names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(folder, "bm25-*", "*")))
    assert manifest["format"] == 2
    assert sorted(name.rsplit("/", 1)[-1] for name in manifest["files"] if name.startswith("bm25-")) == bm25_names
    assert "vocab.index.json" in bm25_names and "data.csc.index.npy" in bm25_names
    assert os.path.relpath(faiss_file(folder), folder) in manifest["files"]
    assert "corpus.jsonl" in manifest["files"]


@pytest.mark.parametrize("name", ["data.csc.index.npy", "vocab.index.json"])
def test_changed_bm25_file_is_rebuilt_never_searched(name, tmp_path, caplog):
    folder = str(tmp_path)
    before = RetrievalIndex.build(folder, DOCIDS, TEXTS, representations=["bm25"]).search(QUERY_TEXTS, 5, BM25)
    path = bm25_file(folder, name)
    if name.endswith(".npy"):  # the CSC matrix's scores in reverse order
        data = np.load(path)
        overwrite_bytes(path, os.path.getsize(path) - data.nbytes, data[::-1].tobytes())
    else:  # two vocabulary ids swapped
        rewrite_json(path, lambda vocab: vocab.update({"capital": vocab["panda"], "panda": vocab["capital"]}))
    fresh = BM25Index.build(TEXTS)
    tampered = BM25Index.load(os.path.dirname(path), BM25Params())  # unchecked, the change alters the answer
    assert repr(tampered.search(tampered.tokenize(QUERY_TEXTS), 5)) != repr(fresh.search(fresh.tokenize(QUERY_TEXTS), 5))
    with caplog.at_level(logging.WARNING, logger="FlagEmbedding"):
        loaded = RetrievalIndex.load(folder)
    assert f"{path}: does not match the checksum recorded when it was written" in caplog.text
    assert "rebuilding the BM25 index" in caplog.text
    assert loaded.search(QUERY_TEXTS, 5, BM25) == before
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="FlagEmbedding"):  # the manifest now records the rebuilt files
        assert RetrievalIndex.load(folder).search(QUERY_TEXTS, 5, BM25) == before
    assert caplog.text == ""


def test_changed_faiss_file_is_rebuilt_never_searched(embedder, tmp_path, caplog):
    folder = str(tmp_path)
    index = RetrievalIndex.build(folder, DOCIDS, TEXTS, embedder=embedder, faiss_factory="IDMap,Flat")
    before = index.search(QUERY_TEXTS, top_k=4)
    path = faiss_file(folder)
    # the stored vectors (before the id map's 8 ids of 8 bytes and its trailer) negated: other scores
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        raw = bytearray(f.read())
    start = size - 200
    vector_bytes = np.frombuffer(bytes(raw[start:start + 64]), dtype=np.float32) * -1
    overwrite_bytes(path, start, vector_bytes.tobytes())
    import faiss  # unchecked, the change alters the answer

    tampered = faiss.deserialize_index(np.fromfile(path, dtype=np.uint8))
    assert not np.allclose(tampered.search(embedder.encode_queries(QUERY_TEXTS), 4)[0], before[1], rtol=1e-6)
    with caplog.at_level(logging.WARNING, logger="FlagEmbedding"):
        loaded = RetrievalIndex.load(folder, embedder)
    assert f"{path}: does not match the checksum recorded when it was written" in caplog.text
    assert "rebuilding the faiss index" in caplog.text
    ids, scores = loaded.search(QUERY_TEXTS, top_k=4)
    assert ids == before[0]
    np.testing.assert_allclose(scores, before[1], rtol=1e-6)


# ---------------------------------------------------------------------------------------------- the manifest
@pytest.fixture
def bm25_folder(tmp_path):
    RetrievalIndex.build(str(tmp_path), DOCIDS, TEXTS, representations=["bm25"])
    return str(tmp_path)


def test_invalid_manifest_json_is_refused_naming_the_file(bm25_folder):
    path = manifest_of(bm25_folder)
    with open(path, "a", encoding="utf-8") as f:
        f.write("}")
    with pytest.raises(InputError, match=rf"^{path}: not a valid index manifest \(Extra data\)\.$"):
        RetrievalIndex.load(bm25_folder)


def test_unknown_format_is_refused(bm25_folder):
    path = manifest_of(bm25_folder)
    rewrite_json(path, lambda content: content.update(format=99))
    with pytest.raises(InputError, match=rf"^{path}: index format 99 is not one this version reads \(1, 2\); delete "
                                         r"it and build the index again"):
        RetrievalIndex.load(bm25_folder)


def test_edited_settings_are_refused_not_rebuilt(bm25_folder, caplog):
    path = manifest_of(bm25_folder)
    rewrite_json(path, lambda content: content["settings"]["bm25"].update(k1=0.9))
    with pytest.raises(InputError, match=rf"^{path}: the manifest does not match its checksum \(edited or damaged\)"):
        RetrievalIndex.load(bm25_folder)

    def edited_and_rechecksummed(content):  # even a consistent checksum cannot hide an edit of the identity
        from FlagEmbedding.retrieval import manifest

        content["settings"]["bm25"]["k1"] = 0.9
        content["checksum"] = manifest._checksum(content)

    rewrite_json(path, edited_and_rechecksummed)
    with pytest.raises(InputError, match=rf"^{path}: the manifest's model, settings or corpus do not match its key"):
        RetrievalIndex.load(bm25_folder)
    assert len(glob.glob(os.path.join(bm25_folder, "bm25-*", "*"))) == 5  # nothing rebuilt


def test_changed_corpus_file_is_refused(bm25_folder):
    path = os.path.join(bm25_folder, "corpus.jsonl")
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"id": "d9", "text": "added later"}) + "\n")
    with pytest.raises(IntegrityError, match=rf"^{path}: does not match the checksum recorded in .*index-.*\.json "
                                             r"\(changed after the build\); restore it, or pass the corpus"):
        RetrievalIndex.load(bm25_folder)


def test_previous_format_is_checked_rebuilt_and_upgraded(bm25_folder, caplog):
    path = manifest_of(bm25_folder)
    expected = RetrievalIndex.load(bm25_folder).search(QUERY_TEXTS, 5, BM25)
    with open(path, encoding="utf-8") as f:
        content = json.load(f)
    for name in ("files", "checksum"):  # what format 1 wrote: no checksums
        del content[name]
    content.update(format=1, key=index_key(1, content["model"], content["settings"], content["corpus"]))
    old_path = os.path.join(bm25_folder, f"index-{content['key'][:16]}.json")
    with open(old_path, "w", encoding="utf-8") as f:
        json.dump(content, f)
    os.remove(path)
    with caplog.at_level(logging.WARNING, logger="FlagEmbedding"):
        loaded = RetrievalIndex.load(bm25_folder)
    assert "rebuilding the BM25 index" in caplog.text  # nothing recorded its files
    assert loaded.search(QUERY_TEXTS, 5, BM25) == expected
    assert not os.path.exists(old_path)
    assert manifest_of(bm25_folder) == path and read_manifest(path)["format"] == 2


# ---------------------------------------------------------------------------------------------- queries without terms
@pytest.mark.parametrize("fusion", ["weighted", "rrf"])
def test_queries_without_bm25_terms_rank_by_the_dense_part(embedder, tmp_path, fusion):
    index = RetrievalIndex.build(str(tmp_path), DOCIDS, TEXTS, embedder=embedder, representations=["dense", "bm25"])
    empty = ["", "   ", "the of and is", "zzzqqq"]
    queries = [QUERY_TEXTS[0], *empty]
    options = SearchOptions(method="hybrid", hybrid_methods=["dense", "bm25"], fusion=fusion)
    ids, scores = index.search(queries, top_k=len(DOCIDS), options=options)
    bm25_ids, _ = index.search(queries, top_k=len(DOCIDS), options=BM25)
    assert bm25_ids[0] and all(found == [] for found in bm25_ids[1:])
    dense_ids, dense_scores = index.search(queries, top_k=len(DOCIDS))
    for row in range(1, len(queries)):  # BM25 adds 0: the dense ranking, over every document
        assert ids[row] == dense_ids[row]
        if fusion == "weighted":
            np.testing.assert_allclose(scores[row], dense_scores[row], rtol=1e-6)
    assert index.parts["bm25"].score([], [0, 1]).tolist() == [0.0, 0.0]


# ---------------------------------------------------------------------------------------------- concurrent writers
WRITER = """
import sys
from FlagEmbedding.retrieval import RetrievalIndex, SearchOptions
from tests.retrieval.test_index_integrity import DOCIDS, TEXTS, QUERY_TEXTS
folder, rounds = sys.argv[1], int(sys.argv[2])
results = set()
for _ in range(rounds):
    index = RetrievalIndex.build(folder, DOCIDS, TEXTS, representations=["bm25"], overwrite=True)
    results.add(repr(index.search(QUERY_TEXTS, 5, SearchOptions(method="bm25"))))
    results.add(repr(RetrievalIndex.load(folder).search(QUERY_TEXTS, 5, SearchOptions(method="bm25"))))
print(len(results), results.pop())
"""


def test_two_processes_rebuilding_one_folder_never_break_each_other(tmp_path):
    folder = str(tmp_path / "index")
    env = {**os.environ, "PYTHONPATH": REPO}
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, folder, "40"], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [writer.communicate(timeout=300) for writer in writers]
    for writer, (out, err) in zip(writers, outputs):
        assert writer.returncode == 0, err[-3000:]
    assert outputs[0][0] == outputs[1][0] and outputs[0][0].startswith("1 ")  # one answer, in both processes
    leftovers = [name for name in os.listdir(tmp_path / "index") if name.startswith(".")]
    assert leftovers == []
