"""Data loading: both local layouts, remote conversion (fake hub), and bad-input errors before any model loads."""
from __future__ import annotations

import gzip
import io
import json
import os
import zipfile

import pytest

from FlagEmbedding.abc.evaluation.arguments import AbsEvalArgs
from FlagEmbedding.evaluation.beir import BEIREvalArgs, BEIREvalDataLoader, BEIREvalRunner
from FlagEmbedding.evaluation.bright import BrightShortEvalDataLoader
from FlagEmbedding.evaluation.custom import CustomEvalDataLoader, CustomEvalRunner
from FlagEmbedding.evaluation.miracl import MIRACLEvalDataLoader, MIRACLEvalRunner
from FlagEmbedding.evaluation.mkqa import MKQAEvalDataLoader
from FlagEmbedding.evaluation.mldr import MLDREvalDataLoader
from FlagEmbedding.evaluation.msmarco import MSMARCOEvalDataLoader
from tests.evaluation.helpers import (CORPUS, QRELS, QUERIES, model_args, read_json, write_beir_layout, write_jsonl,
                                      write_library_layout)

NO_MODEL = "/nonexistent/model/never-loaded"


def test_library_and_beir_layouts_read_the_same(tmp_path):
    own = CustomEvalDataLoader("x", dataset_dir=write_library_layout(str(tmp_path / "own")))
    beir = CustomEvalDataLoader("x", dataset_dir=write_beir_layout(str(tmp_path / "beir"),
                                                                   extra_queries={"q-train": "not in test qrels"}))
    for loader in (own, beir):
        assert loader.load_corpus() == CORPUS
        assert loader.load_queries(split="test") == QUERIES  # BEIR: only queries named by qrels/test.tsv
        assert loader.load_qrels(split="test") == QRELS


def test_numeric_ids_become_strings(tmp_path):
    folder = str(tmp_path / "d")
    write_jsonl(os.path.join(folder, "corpus.jsonl"), [{"_id": 12, "text": "a"}, {"_id": 7, "title": None, "text": "b"}])
    write_jsonl(os.path.join(folder, "queries.jsonl"), [{"_id": 1, "text": "q"}])
    os.makedirs(os.path.join(folder, "qrels"))
    with open(os.path.join(folder, "qrels", "test.tsv"), "w") as f:
        f.write("1\t12\t1\n")
    loader = CustomEvalDataLoader("x", dataset_dir=folder)
    assert loader.load_corpus() == {"12": {"title": "", "text": "a"}, "7": {"title": "", "text": "b"}}
    assert loader.load_queries() == {"1": "q"}
    assert loader.load_qrels() == {"1": {"12": 1}}


def test_custom_sub_folders_are_datasets(tmp_path):
    write_library_layout(str(tmp_path / "alpha"))
    write_beir_layout(str(tmp_path / "beta"))
    loader = CustomEvalDataLoader("x", dataset_dir=str(tmp_path))
    assert loader.available_dataset_names() == ["alpha", "beta"]
    assert loader.load_qrels("beta") == QRELS


# ---------------------------------------------------------------------------------------------- bad input
def run_beir(tmp_path, **overrides):
    values = dict(eval_name="beir", dataset_dir=str(tmp_path / "data"), dataset_names=["scifact"],
                  output_dir=str(tmp_path / "out"), eval_output_path=str(tmp_path / "s.md"))
    values.update(overrides)
    BEIREvalRunner(BEIREvalArgs(**values), model_args(NO_MODEL)).run()


def run_custom(folder, tmp_path, **overrides):
    values = dict(eval_name="mine", dataset_dir=folder, output_dir=str(tmp_path / "out"),
                  eval_output_path=str(tmp_path / "s.md"))
    values.update(overrides)
    CustomEvalRunner(AbsEvalArgs(**values), model_args(NO_MODEL)).run()


def test_missing_eval_name():
    with pytest.raises(ValueError) as error:
        AbsEvalArgs()
    assert str(error.value) == ("--eval_name is required: it names the download-cache sub-folder and is stored in "
                                "every result file.")


def test_unknown_dataset_name(tmp_path):
    with pytest.raises(ValueError) as error:
        run_beir(tmp_path, dataset_names=["scifactt"])
    assert str(error.value) == (
        "Dataset name 'scifactt' is not available for beir; available: arguana, climate-fever, cqadupstack, "
        "dbpedia-entity, fever, fiqa, hotpotqa, msmarco, nfcorpus, nq, quora, scidocs, scifact, trec-covid, "
        "webis-touche2020.")


def test_unknown_split(tmp_path):
    with pytest.raises(ValueError) as error:
        run_beir(tmp_path, splits=["tset"])
    assert str(error.value) == "Unknown split 'tset' for beir; available: dev, test."


def test_no_valid_split_for_dataset(tmp_path):
    with pytest.raises(ValueError) as error:
        run_beir(tmp_path, dataset_names=["scifact", "msmarco"], splits=["dev"])
    assert str(error.value) == "No requested split (dev) is available for dataset 'scifact'; available: test."


def test_dataset_names_for_custom_data_without_sub_folders(tmp_path):
    folder = write_library_layout(str(tmp_path / "d"))
    with pytest.raises(ValueError) as error:
        run_custom(folder, tmp_path, dataset_names=["x"])
    assert str(error.value) == ("Dataset name 'x' is not available for mine; available: none (the data sits "
                                "directly in --dataset_dir).")


def test_missing_custom_file(tmp_path):
    folder = write_library_layout(str(tmp_path / "d"))
    os.remove(os.path.join(folder, "test_qrels.jsonl"))
    with pytest.raises(FileNotFoundError) as error:
        run_custom(folder, tmp_path)
    assert str(error.value) == (
        f"{folder}/test_qrels.jsonl is missing; custom data must be local: put corpus.jsonl, test_queries.jsonl "
        f"and test_qrels.jsonl (or BEIR's corpus.jsonl, queries.jsonl and qrels/test.tsv) in {folder}.")


def test_qrels_naming_unknown_document(tmp_path):
    folder = write_library_layout(str(tmp_path / "d"), qrels={**QRELS, "q1": {"d2": 1, "d99": 1}})
    with pytest.raises(ValueError) as error:
        run_custom(folder, tmp_path)
    assert str(error.value) == f"{folder}/test_qrels.jsonl: 1 document ids are not in {folder}/corpus.jsonl: 'd99'."


def test_qrels_naming_unknown_query(tmp_path):
    folder = write_library_layout(str(tmp_path / "d"), qrels={**QRELS, "q9": {"d1": 1}})
    with pytest.raises(ValueError) as error:
        run_custom(folder, tmp_path)
    assert str(error.value) == f"{folder}/test_qrels.jsonl: 1 query ids are not in {folder}/test_queries.jsonl: 'q9'."


def test_empty_corpus(tmp_path):
    folder = write_library_layout(str(tmp_path / "d"), corpus={})
    with pytest.raises(ValueError) as error:
        run_custom(folder, tmp_path)
    assert str(error.value) == f"{folder}/corpus.jsonl: the corpus is empty."


def test_bad_corpus_line(tmp_path):
    folder = write_library_layout(str(tmp_path / "d"))
    with open(os.path.join(folder, "corpus.jsonl"), "a") as f:
        f.write('{"title": "no id", "text": "x"}\n')
    with pytest.raises(ValueError) as error:
        run_custom(folder, tmp_path)
    assert str(error.value) == f"{folder}/corpus.jsonl, line 9: missing field 'id' or '_id'."


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


# ---- one rule per field for every reader: file and line, before any model loads -------------------------------
def _write_text(path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _run_error(folder, tmp_path) -> str:
    with pytest.raises(ValueError) as error:
        run_custom(folder, tmp_path)
    return str(error.value)


def test_fractional_relevance_is_rejected_by_both_qrels_readers(tmp_path):
    own = write_library_layout(str(tmp_path / "own"))
    with open(os.path.join(own, "test_qrels.jsonl"), "a", encoding="utf-8") as f:
        f.write('{"qid": "q1", "docid": "d1", "relevance": 0.5}\n')
    assert _run_error(own, tmp_path) == (f"{own}/test_qrels.jsonl, line 6: relevance 0.5 is not an integer (grades "
                                         "are whole numbers such as 0, 1, 2).")
    beir = write_beir_layout(str(tmp_path / "beir"))
    with open(os.path.join(beir, "qrels", "test.tsv"), "a", encoding="utf-8") as f:
        f.write("q1\td1\t0.5\n")
    assert _run_error(beir, tmp_path) == (f"{beir}/qrels/test.tsv, line 7: relevance '0.5' is not an integer "
                                          "(grades are whole numbers such as 0, 1, 2).")


def test_integral_relevance_reads_the_same_in_both_formats(tmp_path):
    from FlagEmbedding.abc.evaluation.readers import read_qrels_jsonl, read_qrels_tsv

    jsonl, tsv = tmp_path / "q.jsonl", tmp_path / "q.tsv"
    _write_text(jsonl, '{"qid": "q", "docid": "a", "relevance": 2.0}\n{"qid": "q", "docid": "b", "relevance": "1"}\n')
    _write_text(tsv, "query-id\tcorpus-id\tscore\nq\ta\t2.0\nq\tb\t1\n")
    assert read_qrels_jsonl(str(jsonl)) == read_qrels_tsv(str(tsv)) == {"q": {"a": 2, "b": 1}}


def test_duplicated_qrels_pair_is_rejected_naming_both_lines(tmp_path):
    from FlagEmbedding.abc.evaluation.readers import read_qrels_jsonl, read_qrels_tsv

    jsonl, tsv = tmp_path / "q.jsonl", tmp_path / "q.tsv"
    _write_text(jsonl, '{"qid": "q", "docid": "a", "relevance": 1}\n\n{"qid": "q", "docid": "a", "relevance": 0}\n')
    _write_text(tsv, "q\ta\t1\nq\ta\t1\n")
    with pytest.raises(ValueError, match=rf"^{jsonl}, line 3: query 'q' and document 'a' are already judged on line "
                                         r"1; keep one judgement per pair\.$"):
        read_qrels_jsonl(str(jsonl))
    with pytest.raises(ValueError, match=rf"^{tsv}, line 2: query 'q' and document 'a' are already judged on line 1"):
        read_qrels_tsv(str(tsv))


def test_header_only_qrels_blames_the_qrels_file(tmp_path):
    folder = write_beir_layout(str(tmp_path / "beir"))
    _write_text(os.path.join(folder, "qrels", "test.tsv"), "query-id\tcorpus-id\tscore\n")
    assert _run_error(folder, tmp_path) == f"{folder}/qrels/test.tsv: no relevance judgements."


@pytest.mark.parametrize("row,message", [
    ({"id": "d9", "text": 5}, "'text' must be a string, got int (5)."),
    ({"id": "d9", "title": ["a"], "text": "x"}, "'title' must be a string, got list (['a'])."),
    ({"id": {"a": 1}, "text": "x"}, "'id' must be a string, got dict."),
])
def test_non_string_fields_are_rejected_not_turned_into_reprs(tmp_path, row, message):
    folder = write_library_layout(str(tmp_path / "d"))
    with open(os.path.join(folder, "corpus.jsonl"), "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
    assert _run_error(folder, tmp_path) == f"{folder}/corpus.jsonl, line 9: {message}"


def test_non_utf8_bytes_and_lone_surrogates_name_file_and_line(tmp_path):
    folder = write_library_layout(str(tmp_path / "d"))
    with open(os.path.join(folder, "corpus.jsonl"), "ab") as f:
        f.write(b'{"id": "d9", "text": "caf\xe9"}\n')
    assert _run_error(folder, tmp_path) == (f"{folder}/corpus.jsonl, line 9: not valid UTF-8 (byte 0xe9 at column "
                                            "26); re-save the file as UTF-8.")
    folder = write_library_layout(str(tmp_path / "s"))
    with open(os.path.join(folder, "test_queries.jsonl"), "a", encoding="utf-8") as f:
        f.write('{"id": "q9", "text": "smile \\ud83d"}\n')
    assert _run_error(folder, tmp_path) == (f"{folder}/test_queries.jsonl, line 4: the text holds a lone surrogate "
                                            "('\\ud83d'), which is not a character; fix the escape in the file.")
    beir = write_beir_layout(str(tmp_path / "beir"))
    with open(os.path.join(beir, "qrels", "test.tsv"), "ab") as f:
        f.write(b"q1\td\xff1\t1\n")
    assert _run_error(beir, tmp_path) == (f"{beir}/qrels/test.tsv, line 7: not valid UTF-8 (byte 0xff at column 5); "
                                          "re-save the file as UTF-8.")
