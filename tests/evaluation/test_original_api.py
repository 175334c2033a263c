"""The evaluation API of the original: static helpers, parameter orders and return types."""
import json
import math

import pytest

from FlagEmbedding.abc.evaluation import AbsEvaluator
from FlagEmbedding.abc.evaluation.summary import summary_markdown
from FlagEmbedding.evaluation.beir import BEIREvalDataLoader
from FlagEmbedding.evaluation.custom import CustomEvalDataLoader
from FlagEmbedding.evaluation.mkqa import MKQAEvaluator
from FlagEmbedding.evaluation.mteb import MTEBEvalRunner

RESULTS = {"bge-m3": {"NoReranker": {"a-test": {"ndcg_at_10": 0.5, "recall_at_10": 0.75},
                                     "b-test": {"ndcg_at_10": 0.25, "recall_at_10": 1.0}},
                      "bge-reranker": {"a-test": {"ndcg_at_10": 0.625}}}}


def test_save_search_results_is_static_with_the_original_parameters(tmp_path):
    path = str(tmp_path / "scifact-test.json")
    AbsEvaluator.save_search_results("beir", "bge-m3", "NoReranker", {"q1": {"d1": 0.5}}, path, "test", "scifact")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    assert list(json.loads(text)) == ["eval_name", "model_name", "reranker_name", "split", "dataset_name",
                                      "search_results"]
    assert text.startswith('{\n    "eval_name": "beir"')  # indent 4
    metadata, results = AbsEvaluator.load_search_results(input_path=path)
    assert results == {"q1": {"d1": 0.5}} and metadata["dataset_name"] == "scifact"
    evaluator = AbsEvaluator("beir", data_loader=None)
    evaluator.check_data_info(metadata, "bge-m3", "NoReranker", "test", "scifact")
    with pytest.raises(ValueError, match=r"'reranker_name' is 'NoReranker', expected 'other'"):
        evaluator.check_data_info(metadata, "bge-m3", "other", "test", "scifact")


def test_corpus_embedding_folders():
    evaluator = AbsEvaluator("beir", data_loader=None)
    assert evaluator.get_corpus_embd_save_dir("bge-m3", "/cache", "fiqa") == "/cache/bge-m3/fiqa"
    assert evaluator.get_corpus_embd_save_dir("bge-m3", None, "fiqa") is None
    assert MKQAEvaluator("mkqa", data_loader=None).get_corpus_embd_save_dir("bge-m3", "/cache", "en") == "/cache/bge-m3"


def test_summary_helpers(tmp_path):
    table = AbsEvaluator.get_results_df("ndcg_at_10", RESULTS)
    assert list(table.columns) == ["average", "a-test", "b-test"]
    assert table.loc[("bge-m3", "NoReranker")].tolist() == [0.375, 0.5, 0.25]
    row = table.loc[("bge-m3", "bge-reranker")].tolist()
    assert math.isnan(row[0]) and row[1] == 0.625 and math.isnan(row[2])
    markdown, as_json = tmp_path / "summary.md", tmp_path / "summary.json"
    AbsEvaluator.output_eval_results_to_markdown(RESULTS, str(markdown), ["ndcg_at_10"])
    assert markdown.read_text(encoding="utf-8") == summary_markdown(RESULTS, ["ndcg_at_10"])
    AbsEvaluator.output_eval_results_to_json(RESULTS, str(as_json))
    assert json.loads(as_json.read_text(encoding="utf-8")) == RESULTS


def test_mkqa_compute_metrics_takes_the_corpus_texts():
    corpus = {"d1": "Paris is in France", "d2": "Berlin"}
    metrics = MKQAEvaluator.compute_metrics(corpus, {"q": ["Berlin"]}, {"q": {"d1": 0.9, "d2": 0.5}}, [1, 2])
    assert metrics == {"qa_recall_at_1": 0.0, "qa_recall_at_2": 1.0}


def write_dataset(folder):
    folder.mkdir(parents=True)
    (folder / "corpus.jsonl").write_text('{"id": "d1", "title": "", "text": "one"}\n')
    (folder / "test_queries.jsonl").write_text('{"id": "q1", "text": "first"}\n')
    (folder / "test_qrels.jsonl").write_text('{"qid": "q1", "docid": "d1", "relevance": 1}\n')


def test_beir_loader_keeps_the_original_parameter_order(tmp_path):
    write_dataset(tmp_path / "cqadupstack" / "android")
    loader = BEIREvalDataLoader("beir", str(tmp_path))
    assert loader.available_sub_dataset_names("cqadupstack")[:2] == ["android", "english"]
    assert loader.available_sub_dataset_names("fiqa") is None
    assert loader.load_qrels("cqadupstack", "android", "test") == {"q1": {"d1": 1}}
    assert loader.load_queries("cqadupstack", "android") == {"q1": "first"}
    with pytest.raises(ValueError, match=r"^sub_dataset_name 'test' is not a sub-dataset of 'fiqa' .*pass split="):
        loader.load_qrels("fiqa", "test")


def test_custom_loader_takes_the_base_parameters_positionally(tmp_path):
    write_dataset(tmp_path / "data")
    loader = CustomEvalDataLoader("mine", str(tmp_path / "data"), str(tmp_path / "cache"), None, False)
    assert loader.load_qrels() == {"q1": {"d1": 1}} and loader.cache_dir == str(tmp_path / "cache" / "mine")
    with pytest.raises(TypeError):
        loader.load_qrels(None, "test", "sub")  # sub_dataset_name is keyword-only outside BEIR


def test_mteb_output_json(tmp_path):
    path = tmp_path / "summary.json"
    MTEBEvalRunner.output_json(None, {"Retrieval": {"NFCorpus": 30.0, "CQADupstackGis": 20.0, "CQADupstackTex": 10.0},
                                      "STS": {"STS12": 80.0}}, str(path))
    assert json.loads(path.read_text()) == {
        "Retrieval": {"NFCorpus": 30.0, "CQADupstackGis": 20.0, "CQADupstackTex": 10.0, "CQADupstack": 15.0,
                      "Avg": 22.5},
        "STS": {"STS12": 80.0, "Avg": 80.0}, "Avg": 41.67}
