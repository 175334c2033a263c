"""Corpus-embedding cache faults: corrupted, truncated, foreign and half-written caches are never reused."""
from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from FlagEmbedding.abc.evaluation.arguments import AbsEvalArgs
from FlagEmbedding.evaluation.custom import CustomEvalRunner
from tests.helpers import REPO
from tests.helpers.benchmarks import CORPUS, QUERIES, flags, model_args, write_library_layout
from tests.helpers.files import read_json

SHARD = 3  # 8 documents -> shards of 3, 3 and 2 rows


def make_runner(data, tmp_path, model, embd=None, out="out", **overrides):
    values = dict(eval_name="mine", dataset_dir=data, output_dir=str(tmp_path / out), corpus_embd_save_dir=embd,
                  corpus_embd_shard_size=SHARD, eval_output_path=str(tmp_path / f"{out}.md"), k_values=[1, 3, 10])
    values.update(overrides)
    return CustomEvalRunner(AbsEvalArgs(**values), model_args(model))


def eval_results(tmp_path, out="out", model="bge-large-en-v1.5"):
    return read_json(str(tmp_path / out / model / "NoReranker" / "EVAL" / "eval_results.json"))


@pytest.fixture()
def data(tmp_path):
    return write_library_layout(str(tmp_path / "data"))


def retrieve(runner, embd):
    return runner.retriever(CORPUS, QUERIES, corpus_embd_save_dir=embd)


# Baselines use a fresh cache folder with the same shard size: identical batches give bit-identical vectors
# (tiny random models score every document within 1e-5, so other batching could reorder ties).


def test_corrupted_and_truncated_shards_are_reencoded(data, tmp_path, bge_large):
    runner = make_runner(data, tmp_path, bge_large)
    fresh = retrieve(runner, str(tmp_path / "fresh"))
    embd = str(tmp_path / "embd")
    assert retrieve(runner, embd) == fresh
    cache = runner.retriever.last_cache
    assert cache.encoded_shards == [0, 1, 2]
    assert retrieve(runner, embd) == fresh and runner.retriever.last_cache.encoded_shards == []  # clean reuse

    path = cache.shard_path(1)  # flip bytes in the data (the header still parses)
    raw = bytearray(open(path, "rb").read())
    raw[-8:] = bytes(255 - b for b in raw[-8:])
    open(path, "wb").write(bytes(raw))
    with open(cache.shard_path(2), "r+b") as f:  # truncate another shard
        f.truncate(os.path.getsize(cache.shard_path(2)) // 2)
    assert retrieve(runner, embd) == fresh
    assert runner.retriever.last_cache.encoded_shards == [1, 2]

    os.remove(os.path.join(cache.path, "manifest.json"))  # no manifest: nothing can be trusted
    assert retrieve(runner, embd) == fresh
    assert runner.retriever.last_cache.encoded_shards == [0, 1, 2]


@pytest.mark.parametrize("content", ["empty", "npz", "zip-bytes", "pickle", "garbage"])
def test_unreadable_shards_are_reencoded(data, tmp_path, bge_large, content):
    runner = make_runner(data, tmp_path, bge_large)
    fresh = retrieve(runner, str(tmp_path / "fresh"))
    embd = str(tmp_path / "embd")
    assert retrieve(runner, embd) == fresh
    path = runner.retriever.last_cache.shard_path(1)
    if content == "npz":
        np.savez(path + ".npz", np.zeros((3, 4), dtype=np.float32))
        os.replace(path + ".npz", path)
    else:
        payload = {"empty": b"", "zip-bytes": b"PK\x03\x04" + b"\x00" * 40, "garbage": b"\x93NUMPY junk",
                   "pickle": b"\x80\x04\x95"}[content]
        with open(path, "wb") as f:
            f.write(payload)
    assert retrieve(runner, embd) == fresh
    assert runner.retriever.last_cache.encoded_shards == [1]


def test_cache_of_another_model_is_not_reused(data, tmp_path, bge_large, other_bge_large):
    embd = str(tmp_path / "embd")
    make_runner(data, tmp_path, bge_large, embd=embd, out="a").run()
    runner_b = make_runner(data, tmp_path, other_bge_large, embd=embd, out="b")
    runner_b.run()
    assert runner_b.retriever.last_cache.encoded_shards == [0, 1, 2]  # same display name, other weights
    make_runner(data, tmp_path, other_bge_large, embd=str(tmp_path / "fresh"), out="b_fresh").run()
    assert eval_results(tmp_path, "b") == eval_results(tmp_path, "b_fresh")
    assert eval_results(tmp_path, "a") != eval_results(tmp_path, "b")

    # a foreign cache copied where model B looks is detected by its manifest fingerprint
    folders = glob.glob(os.path.join(embd, "bge-large-en-v1.5", "*"))
    b_folder = runner_b.retriever.last_cache.path
    a_folder = next(f for f in folders if f != b_folder)
    shutil.rmtree(b_folder)
    shutil.copytree(a_folder, b_folder)
    fresh = retrieve(runner_b, str(tmp_path / "fresh"))
    assert retrieve(runner_b, embd) == fresh
    assert runner_b.retriever.last_cache.encoded_shards == [0, 1, 2]


def test_changed_settings_or_corpus_get_their_own_cache(data, tmp_path, bge_large):
    embd = str(tmp_path / "embd")
    runner = make_runner(data, tmp_path, bge_large)
    retrieve(runner, embd)
    first = runner.retriever.last_cache.path
    runner.retriever.embedder.passage_max_length = 16
    retrieve(runner, embd)
    assert runner.retriever.last_cache.path != first and runner.retriever.last_cache.encoded_shards == [0, 1, 2]
    runner.retriever.embedder.passage_max_length = 64
    changed = {**CORPUS, "d8": {"title": "", "text": "another text"}}
    runner.retriever(changed, QUERIES, corpus_embd_save_dir=embd)
    assert runner.retriever.last_cache.path != first


def test_same_output_folder_refuses_another_model_with_the_same_name(data, tmp_path, bge_large, other_bge_large):
    make_runner(data, tmp_path, bge_large).run()
    with pytest.raises(ValueError) as error:
        make_runner(data, tmp_path, other_bge_large).run()
    folder = tmp_path / "out" / "bge-large-en-v1.5"
    assert str(error.value) == (f"{folder} holds results of {bge_large}, not {other_bge_large} (same display name); "
                                "use another --output_dir or rerun with --overwrite.")


SLOW_ENCODE = """
import sys, time
from FlagEmbedding.inference.embedder.encoder_only.base import BaseEmbedder
original = BaseEmbedder.encode_corpus
def slow(self, *args, **kwargs):
    time.sleep(1.5)
    return original(self, *args, **kwargs)
BaseEmbedder.encode_corpus = slow
from FlagEmbedding.evaluation.custom.__main__ import main
main(sys.argv[1:])
"""


def test_run_killed_mid_encoding_resumes_missing_shards(data, tmp_path, bge_large):
    embd = str(tmp_path / "embd")
    argv = flags(dict(eval_name="mine", dataset_dir=data, output_dir=str(tmp_path / "out"), corpus_embd_save_dir=embd,
                      corpus_embd_shard_size=1, eval_output_path=str(tmp_path / "out.md"), k_values=[1, 3, 10],
                      embedder_name_or_path=bge_large, devices="cpu", embedder_batch_size=4,
                      embedder_query_max_length=64, embedder_passage_max_length=64))
    env = {**os.environ, "PYTHONPATH": REPO}
    process = subprocess.Popen([sys.executable, "-c", SLOW_ENCODE, *argv], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    done = []
    try:
        deadline = time.time() + 240
        while time.time() < deadline and process.poll() is None:
            manifests = glob.glob(os.path.join(embd, "*", "*", "manifest.json"))
            if manifests:
                try:
                    done = sorted(int(i) for i in json.load(open(manifests[0]))["shards"])
                except ValueError:  # never happens with atomic writes, but do not crash the poll
                    done = []
                if len(done) >= 2:
                    break
            time.sleep(0.1)
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    manifest = glob.glob(os.path.join(embd, "*", "*", "manifest.json"))[0]
    done = sorted(int(i) for i in json.load(open(manifest))["shards"])  # what the killed run completed
    assert 2 <= len(done) < len(CORPUS)
    assert not os.path.exists(tmp_path / "out.md")  # it really died mid-encoding

    runner = make_runner(data, tmp_path, bge_large, embd=embd, corpus_embd_shard_size=1)
    runner.run()
    encoded = runner.retriever.last_cache.encoded_shards
    assert set(encoded) == set(range(len(CORPUS))) - set(done)
    assert set(encoded) & set(done) == set()
    make_runner(data, tmp_path, bge_large, embd=str(tmp_path / "fresh"), out="fresh", corpus_embd_shard_size=1).run()
    assert eval_results(tmp_path) == eval_results(tmp_path, "fresh")
    shards = [np.load(runner.retriever.last_cache.shard_path(i)) for i in range(len(CORPUS))]
    assert all(s.shape == (1, 32) for s in shards)


def test_changed_qrels_are_rescored_not_served_from_old_metrics(data, tmp_path, bge_large):
    make_runner(data, tmp_path, bge_large).run()
    before = eval_results(tmp_path)["test"]
    qrels_path = os.path.join(data, "test_qrels.jsonl")
    with open(qrels_path, "w", encoding="utf-8") as f:  # every judged document changes
        f.write('{"qid": "q1", "docid": "d8", "relevance": 1}\n{"qid": "q2", "docid": "d1", "relevance": 1}\n')
    make_runner(data, tmp_path, bge_large).run()
    after = eval_results(tmp_path)["test"]
    make_runner(data, tmp_path, bge_large, out="fresh").run()
    assert after == eval_results(tmp_path, out="fresh")["test"]
    assert after != before


@pytest.mark.parametrize("suffix", ["1_Pooling/..", ".", "/"])
def test_model_paths_are_normalised_so_nothing_is_written_outside_the_named_folders(data, tmp_path, bge_large,
                                                                                    suffix):
    model = tmp_path / "models" / "bge-large-en-v1.5"
    shutil.copytree(bge_large, model)
    (model / "1_Pooling").mkdir()
    work = tmp_path / "work"
    work.mkdir()
    runner = make_runner(data, work, os.path.join(str(model), suffix) if suffix != "/" else f"{model}/",
                         embd=str(work / "embd"))
    runner.run()
    assert sorted(os.listdir(work)) == ["embd", "out", "out.md"]
    assert os.listdir(work / "out") == ["bge-large-en-v1.5"] and os.listdir(work / "embd") == ["bge-large-en-v1.5"]
    assert "| bge-large-en-v1.5 | NoReranker |" in (work / "out.md").read_text(encoding="utf-8")


def test_a_model_path_that_names_no_folder_is_refused():
    from FlagEmbedding.abc.evaluation.naming import display_name

    assert display_name("BAAI/bge-m3/.") == "bge-m3"
    with pytest.raises(ValueError, match=r"^Model name or path 'org/\.\.' does not name a model folder"):
        display_name("org/..")


def test_search_results_are_recomputed_when_what_produced_them_changed(data, tmp_path, bge_large):
    make_runner(data, tmp_path, bge_large).run()
    path = tmp_path / "out" / "bge-large-en-v1.5" / "NoReranker" / "test.json"
    first = read_json(str(path))["search_results"]
    assert all(len(hits) == 8 for hits in first.values())
    make_runner(data, tmp_path, bge_large).run()  # nothing changed: the file is reused as it is
    assert read_json(str(path))["search_results"] == first
    make_runner(data, tmp_path, bge_large, search_top_k=2).run()  # a setting changed
    assert all(len(hits) == 2 for hits in read_json(str(path))["search_results"].values())
    with open(os.path.join(data, "test_queries.jsonl"), "a", encoding="utf-8") as f:  # the queries changed
        f.write('{"id": "q4", "text": "numbers and symbols"}\n')
    with open(os.path.join(data, "test_qrels.jsonl"), "a", encoding="utf-8") as f:
        f.write('{"qid": "q4", "docid": "d8", "relevance": 1}\n')
    make_runner(data, tmp_path, bge_large, search_top_k=2).run()
    assert "q4" in read_json(str(path))["search_results"]
