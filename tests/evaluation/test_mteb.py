"""MTEB runner on mteb 2.x: per-task settings, summary, and a SciFact slice evaluated by mteb and by us."""
from __future__ import annotations

import json
import os
from types import SimpleNamespace

import pytest

from FlagEmbedding.evaluation.mteb import MTEBEvalArgs, MTEBEvalRunner
from FlagEmbedding.evaluation.mteb.prompts import get_task_def_by_task_name_and_type
from FlagEmbedding.evaluation.mteb.runner import main_score, summarize
from tests.helpers.benchmarks import model_args, write_library_layout
from tests.helpers.files import read_json
from tests.evaluation.mteb_tasks import local_retrieval_task


def test_instructions():
    assert get_task_def_by_task_name_and_type("STS12", "STS") == "Retrieve semantically similar text."
    assert get_task_def_by_task_name_and_type("cqadupstack-tex", "Retrieval") == (
        "Given a question, retrieve detailed question descriptions from Stackexchange that are duplicates to the "
        "given question.")
    assert get_task_def_by_task_name_and_type("fiqa", "Retrieval") == (
        "Given a financial question, retrieve user replies that best answer the question.")
    assert get_task_def_by_task_name_and_type("SummEval", "Summarization") == (
        "Given a news summary, retrieve other semantically similar summaries.")
    with pytest.raises(ValueError, match="^No instruction config for task Foo with type Retrieval$"):
        get_task_def_by_task_name_and_type("Foo", "Retrieval")


def test_summary_counts_cqadupstack_once():
    scores = [("Retrieval", "SciFact", 60.0), ("Retrieval", "CQADupstackTexRetrieval", 30.0),
              ("Retrieval", "CQADupstackUnixRetrieval", 40.0), ("STS", "STS12", 80.0)]
    assert summarize(scores) == {
        "Retrieval": {"SciFact": 60.0, "CQADupstackTexRetrieval": 30.0, "CQADupstackUnixRetrieval": 40.0,
                      "CQADupstack": 35.0, "Avg": 47.5},
        "STS": {"STS12": 80.0, "Avg": 80.0},
        "Avg": round((60 + 35 + 80) / 3, 2),
    }
    assert main_score({"train": [], "dev": [{"hf_subset": "x", "main_score": 0.1},
                                            {"hf_subset": "default", "main_score": 0.123456}]}) == 12.35


def test_per_task_settings(tmp_path, bge_large):
    args = MTEBEvalArgs(eval_name="mteb", output_dir=str(tmp_path), use_special_instructions=True,
                        examples_path=str(tmp_path))
    runner = MTEBEvalRunner(args, model_args(bge_large, query_instruction_for_retrieval="mine: "))
    retriever = runner.retriever
    task = lambda name, kind: SimpleNamespace(metadata=SimpleNamespace(name=name, type=kind))  # noqa: E731
    runner.prepare_task(task("NFCorpus", "Retrieval"))
    assert retriever.get_instruction() == "Given a question, retrieve relevant documents that best answer the question."
    assert retriever.embedder.normalize_embeddings is True
    runner.prepare_task(task("UnknownTask", "Classification"))  # lookup fails: back to the user's instruction
    assert retriever.get_instruction() == "mine: "
    assert retriever.embedder.normalize_embeddings is False


def test_runner_writes_results_and_markdown(tmp_path, bge_large, monkeypatch):
    from tests.helpers.benchmarks import CORPUS, QRELS, QUERIES

    monkeypatch.setattr(MTEBEvalRunner, "load_tasks", lambda self: [local_retrieval_task("TinyRetrieval", CORPUS,
                                                                                           QUERIES, QRELS)])
    summary = str(tmp_path / "summary.md")
    args = MTEBEvalArgs(eval_name="mteb", output_dir=str(tmp_path / "out"), eval_output_method="markdown",
                        eval_output_path=summary)
    MTEBEvalRunner(args, model_args(bge_large)).run()
    path = tmp_path / "out" / "bge-large-en-v1.5" / "no_model_name_available" / "no_revision_available" / "TinyRetrieval.json"
    result = read_json(str(path))
    assert result["task_name"] == "TinyRetrieval"
    score = round(result["scores"]["test"][0]["main_score"] * 100, 2)
    with open(summary) as f:
        assert f.read() == (f"## Retrieval\n\n| Task | Score |\n| :---- | :---: |\n| TinyRetrieval | {score:.2f} |\n"
                            f"| Avg | {score:.2f} |\n\n**Avg**: {score:.2f}\n")


@pytest.mark.slow
def test_scifact_slice_through_mteb_matches_our_evaluator(tmp_path, scifact, minilm, monkeypatch):
    """mteb 2.x scores a SciFact slice with our model wrapper exactly as our own pipeline does."""
    from FlagEmbedding.retrieval.readers import read_corpus, read_qrels_tsv, read_queries
    from FlagEmbedding.evaluation.custom.__main__ import main as custom_main

    corpus = read_corpus(os.path.join(scifact, "corpus.jsonl"))
    qrels = dict(list(read_qrels_tsv(os.path.join(scifact, "qrels", "test.tsv")).items())[:20])
    queries = read_queries(os.path.join(scifact, "queries.jsonl"), keep=set(qrels))
    keep = {d for docs in qrels.values() for d in docs} | set(list(corpus)[:100])
    corpus = {d: doc for d, doc in corpus.items() if d in keep}
    common = ["--embedder_name_or_path", minilm, "--embedder_model_class", "encoder-only-base", "--pooling_method",
              "mean", "--devices", "cpu", "--embedder_batch_size", "32", "--embedder_passage_max_length", "128",
              "--embedder_query_max_length", "128"]

    monkeypatch.setattr(MTEBEvalRunner, "load_tasks",
                        lambda self: [local_retrieval_task("SciFactSlice", corpus, queries, qrels)])
    from FlagEmbedding.evaluation.mteb.__main__ import main as mteb_main

    mteb_main(["--eval_name", "mteb", "--output_dir", str(tmp_path / "mteb"), "--eval_output_path",
               str(tmp_path / "mteb.json"), *common])
    mteb_score = read_json(str(tmp_path / "mteb.json"))["Retrieval"]["SciFactSlice"]

    data = str(tmp_path / "data")
    write_library_layout(data, corpus=corpus, queries=queries, qrels=qrels)
    custom_main(["--eval_name", "slice", "--dataset_dir", data, "--output_dir", str(tmp_path / "ours"),
                 "--eval_output_path", str(tmp_path / "ours.md"), "--k_values", "10", *common])
    ours = read_json(str(tmp_path / "ours" / "model" / "NoReranker" / "EVAL" / "eval_results.json"))
    assert mteb_score == round(ours["test"]["ndcg_at_10"] * 100, 2)
    assert 30 < mteb_score <= 100
    assert json.dumps(read_json(str(tmp_path / "mteb.json"))) == json.dumps(
        {"Retrieval": {"SciFactSlice": mteb_score, "Avg": mteb_score}, "Avg": mteb_score})
