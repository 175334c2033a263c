"""Each benchmark's remote sources (a fake hub stands in for the network): conversion, filtering, saving, and
the offline error naming the source and the local layout."""
from __future__ import annotations

import gzip
import io
import json
import os
import zipfile

import pytest

from FlagEmbedding.abc.evaluation.arguments import AbsEvalArgs
from FlagEmbedding.evaluation.beir import BEIREvalDataLoader
from FlagEmbedding.evaluation.bright import BrightShortEvalDataLoader
from FlagEmbedding.evaluation.miracl import MIRACLEvalDataLoader, MIRACLEvalRunner
from FlagEmbedding.evaluation.mkqa import MKQAEvalDataLoader
from FlagEmbedding.evaluation.mldr import MLDREvalDataLoader
from FlagEmbedding.evaluation.msmarco import MSMARCOEvalDataLoader
from tests.helpers.benchmarks import NO_MODEL, model_args, run_beir, write_library_layout
from tests.helpers.files import read_json


def test_offline_beir_names_dataset_source_and_layout(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        run_beir(tmp_path)
    folder = tmp_path / "data" / "scifact"
    assert str(error.value) == (
        "BEIR dataset 'scifact' is not available locally and could not be downloaded from "
        "https://huggingface.co/datasets/BeIR/scifact (and BeIR/scifact-qrels) (ConnectionError); get it from there "
        "and put corpus.jsonl, test_queries.jsonl and test_qrels.jsonl (or BEIR's corpus.jsonl, queries.jsonl and "
        f"qrels/test.tsv) in {folder}.")


def test_offline_without_dataset_dir(tmp_path):
    args = AbsEvalArgs(eval_name="miracl", dataset_names=["sw"], splits=["dev"], output_dir=str(tmp_path / "o"))
    with pytest.raises(FileNotFoundError) as error:
        MIRACLEvalRunner(args, model_args(NO_MODEL)).run()
    assert str(error.value) == (
        "MIRACL dataset 'sw' is not available locally and could not be downloaded from "
        "https://huggingface.co/datasets/miracl/miracl-corpus and https://huggingface.co/datasets/miracl/miracl "
        "(ConnectionError); get it from there and put corpus.jsonl, dev_queries.jsonl and dev_qrels.jsonl (or BEIR's "
        "corpus.jsonl, queries.jsonl and qrels/dev.tsv) in <dataset_dir>/sw and pass --dataset_dir <dataset_dir>.")


def test_offline_msmarco_trec_download(tmp_path):
    loader = MSMARCOEvalDataLoader("msmarco", dataset_dir=str(tmp_path), cache_dir=str(tmp_path / "cache"))
    with pytest.raises(FileNotFoundError, match=r"^MS MARCO dataset 'passage' is not available locally .*\(ConnectionError\); "
                                                r"get it from there and put corpus\.jsonl, dl19_queries\.jsonl"):
        loader.load_qrels("passage", "dl19")


# ---------------------------------------------------------------------------------------------- remote code paths
class FakeHub:
    """Stands in for ``datasets.load_dataset`` / ``hf_hub_download`` / raw downloads (no network)."""

    def __init__(self, tmp_path, datasets=None, files=None, urls=None):
        self.tmp_path, self.datasets, self.files, self.urls = tmp_path, datasets or {}, files or {}, urls or {}
        self.calls = []

    def install(self, monkeypatch, cls):
        hub = self

        def load(loader, path, name=None, split=None):
            hub.calls.append((path, name, split))
            if (path, name, split) not in hub.datasets:
                raise ConnectionError(f"no fake dataset {(path, name, split)}")
            return hub.datasets[(path, name, split)]

        def hf_file(loader, repo_id, filename):
            hub.calls.append((repo_id, filename))
            return hub.files[(repo_id, filename)]

        def download(loader, url, save_dir):
            hub.calls.append(url)
            target = os.path.join(save_dir, os.path.basename(url))
            os.makedirs(save_dir, exist_ok=True)
            with open(target, "wb") as f:
                f.write(hub.urls[url])
            return target

        monkeypatch.setattr(cls, "_load_hf_dataset", load)
        monkeypatch.setattr(cls, "_hf_file", hf_file)
        monkeypatch.setattr(cls, "_download_file", download)


def test_beir_remote_is_converted_filtered_and_saved(tmp_path, monkeypatch):
    hub = FakeHub(tmp_path, datasets={
        ("BeIR/scifact", "corpus", "corpus"): [{"_id": 5, "title": None, "text": "five"}, {"_id": "6", "title": "T", "text": "six"}],
        ("BeIR/scifact", "queries", "queries"): [{"_id": 1, "text": "one"}, {"_id": 2, "text": "train only"}],
        ("BeIR/scifact-qrels", None, "test"): [{"query-id": 1, "corpus-id": 5, "score": 1}],
    })
    hub.install(monkeypatch, BEIREvalDataLoader)
    loader = BEIREvalDataLoader("beir", dataset_dir=str(tmp_path))
    loader.validate("scifact", ["test"])
    assert loader.load_corpus("scifact") == {"5": {"title": "", "text": "five"}, "6": {"title": "T", "text": "six"}}
    assert loader.load_queries("scifact", split="test") == {"1": "one"}
    folder = tmp_path / "scifact"
    assert sorted(os.listdir(folder)) == ["corpus.jsonl", "test_qrels.jsonl", "test_queries.jsonl"]
    assert (folder / "test_qrels.jsonl").read_text() == '{"qid": "1", "docid": "5", "relevance": 1}\n'
    calls = len(hub.calls)
    again = BEIREvalDataLoader("beir", dataset_dir=str(tmp_path))
    again.validate("scifact", ["test"])
    assert len(hub.calls) == calls  # served from the saved files
    assert again.load_queries("scifact", split="test") == {"1": "one"}


def test_force_redownload_fetches_once_per_loader(tmp_path, monkeypatch):
    write_library_layout(str(tmp_path / "fiqa"))
    hub = FakeHub(tmp_path, datasets={("BeIR/fiqa", "corpus", "corpus"): [{"_id": "z", "title": "", "text": "new"}]})
    hub.install(monkeypatch, BEIREvalDataLoader)
    loader = BEIREvalDataLoader("beir", dataset_dir=str(tmp_path), force_redownload=True)
    loader.load_corpus("fiqa")
    loader._corpus_memo = None
    assert loader.load_corpus("fiqa") == {"z": {"title": "", "text": "new"}}
    assert hub.calls == [("BeIR/fiqa", "corpus", "corpus")]


def test_mkqa_remote(tmp_path, monkeypatch):
    archive = tmp_path / "MKQA_test-data.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("MKQA/en.jsonl", json.dumps({"id": 3, "question": "Who?", "answers": ["Ann", "A. B."]}) + "\n")
    hub = FakeHub(tmp_path, datasets={("BeIR/nq", "corpus", "corpus"): [
        {"_id": "doc0", "title": "Caf\u00e9 \u201cX\u201d", "text": "Some\u2014Text\u00ad"}]},
        files={("Shitao/bge-m3-data", "MKQA_test-data.zip"): str(archive)})
    hub.install(monkeypatch, MKQAEvalDataLoader)
    loader = MKQAEvalDataLoader("mkqa", dataset_dir=str(tmp_path / "data"), cache_dir=str(tmp_path / "cache"))
    loader.validate("en", ["test"])
    assert loader.load_corpus("en") == {"doc0": {"title": 'caf\u00e9 "x"', "text": "some-text"}}
    assert loader.load_queries("en", "test") == {"3": "Who?"}
    assert loader.load_qrels("en", "test") == {"3": ["Ann", "A. B."]}
    assert read_json(str(tmp_path / "data" / "en" / "test_qrels.jsonl")) == {"qid": "3", "answers": ["Ann", "A. B."]}
    assert os.path.exists(tmp_path / "data" / "corpus.jsonl")  # shared corpus at the root


def test_bright_remote_prefixes_ids_and_judges_exclusions(tmp_path, monkeypatch):
    rows = [{"id": 0, "query": "q?", "gold_ids": ["a"], "gold_ids_long": ["A"], "excluded_ids": ["b", "b", "N/A"]}]
    hub = FakeHub(tmp_path, datasets={("xlangai/bright", "gpt4_reason", "pony"): rows,
                                      ("xlangai/bright", "documents", "pony"): [{"id": "a", "content": "x"},
                                                                                {"id": "b", "content": "y"}]})
    hub.install(monkeypatch, BrightShortEvalDataLoader)
    loader = BrightShortEvalDataLoader("bright_short")
    loader.validate("pony", ["gpt4_reason"])
    assert loader.load_queries("pony", "gpt4_reason") == {"gpt4_reason-0": "q?"}
    assert loader.load_qrels("pony", "gpt4_reason") == {"gpt4_reason-0": {"a": 1, "b": 0}}


def test_mldr_and_miracl_and_msmarco_remote(tmp_path, monkeypatch):
    mldr_rows = [{"query_id": "q1", "query": "Q", "positive_passages": [{"docid": "d1"}],
                  "negative_passages": [{"docid": "d2"}]}]
    FakeHub(tmp_path, datasets={("Shitao/MLDR", "hi", "test"): mldr_rows}).install(monkeypatch, MLDREvalDataLoader)
    mldr = MLDREvalDataLoader("mldr")
    assert mldr.load_qrels("hi", "test") == {"q1": {"d1": 1, "d2": 0}}
    assert mldr.load_queries("hi", "test") == {"q1": "Q"}

    (tmp_path / "topics.tsv").write_text("7\tswahili question\n")
    (tmp_path / "qrels.tsv").write_text("7\tQ0\t70#1\t1\n7\tQ0\t70#2\t0\n")
    FakeHub(tmp_path, files={
        ("miracl/miracl", "miracl-v1.0-sw/topics/topics.miracl-v1.0-sw-dev.tsv"): str(tmp_path / "topics.tsv"),
        ("miracl/miracl", "miracl-v1.0-sw/qrels/qrels.miracl-v1.0-sw-dev.tsv"): str(tmp_path / "qrels.tsv"),
    }).install(monkeypatch, MIRACLEvalDataLoader)
    miracl = MIRACLEvalDataLoader("miracl")
    assert miracl.load_queries("sw", "dev") == {"7": "swahili question"}
    assert miracl.load_qrels("sw", "dev") == {"7": {"70#1": 1, "70#2": 0}}

    queries_gz = io.BytesIO()
    with gzip.GzipFile(fileobj=queries_gz, mode="wb") as g:
        g.write(b"11\tfirst\n12\tno qrels\n")
    FakeHub(tmp_path, urls={
        "https://trec.nist.gov/data/deep/2019qrels-pass.txt": b"11 Q0 p5 3\n11 Q0 p6 0\n",
        "https://msmarco.z22.web.core.windows.net/msmarcoranking/msmarco-test2019-queries.tsv.gz": queries_gz.getvalue(),
    }).install(monkeypatch, MSMARCOEvalDataLoader)
    msmarco = MSMARCOEvalDataLoader("msmarco", cache_dir=str(tmp_path / "cache"))
    assert msmarco.load_qrels("passage", "dl19") == {"11": {"p5": 3, "p6": 0}}
    assert msmarco.load_queries("passage", "dl19") == {"11": "first"}  # filtered to queries with qrels
