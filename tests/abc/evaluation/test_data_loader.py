"""The abstract evaluation loader, reached through the custom and BEIR loaders: both local layouts, dataset names,
splits and cross-file checks, before any model loads (the file readers' own rules: tests/retrieval/test_readers.py)."""
from __future__ import annotations

import os

import pytest

from FlagEmbedding.abc.evaluation.arguments import AbsEvalArgs
from FlagEmbedding.evaluation.custom import CustomEvalDataLoader
from tests.helpers.benchmarks import (CORPUS, QRELS, QUERIES, run_beir, run_custom, write_beir_layout,
                                      write_library_layout)
from tests.helpers.files import write_jsonl


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
