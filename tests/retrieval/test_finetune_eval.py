"""--eval_retrieval_dir: the fine-tuning Trainer logs nDCG@10 / recall@100 of the model being trained (M3: also
sparse, ColBERT and "all")."""
from __future__ import annotations

import glob

import numpy as np
import pytest
import torch

from FlagEmbedding.retrieval.metrics import evaluate_metrics
from FlagEmbedding.abc.evaluation.naming import passage_text
from FlagEmbedding.finetune.common.cli import parse_args
from FlagEmbedding.finetune.embedder.encoder_only.base import (
    EncoderOnlyEmbedderDataArguments,
    EncoderOnlyEmbedderModelArguments,
    EncoderOnlyEmbedderRunner,
    EncoderOnlyEmbedderTrainingArguments,
)
from tests.helpers.benchmarks import CORPUS, QRELS, QUERIES, write_beir_layout
from tests.helpers.files import read_json, write_jsonl
from tests.helpers.training import record

CLASSES = (EncoderOnlyEmbedderModelArguments, EncoderOnlyEmbedderDataArguments, EncoderOnlyEmbedderTrainingArguments)



def train_with_evaluation(runner_class, classes, model, tmp_path, best_metric, *extra):
    """Four training steps evaluated (and saved) every two, keeping the best by ``best_metric``; returns the
    runner and ``{step: logged evaluation}``."""
    beir = write_beir_layout(str(tmp_path / "beir"))
    data = write_jsonl(str(tmp_path / "train.jsonl"), [record(i, num_neg=3) for i in range(8)])
    argv = ["--model_name_or_path", model, "--train_data", data, "--output_dir", str(tmp_path / "out"),
            "--train_group_size", "2", "--per_device_train_batch_size", "2", "--report_to", "none",
            "--learning_rate", "1e-3", "--seed", "7", "--max_steps", "4",
            "--eval_retrieval_dir", beir, "--eval_retrieval_split", "test", "--eval_strategy", "steps",
            "--eval_steps", "2", "--save_strategy", "steps", "--save_steps", "2", "--load_best_model_at_end", "True",
            "--metric_for_best_model", best_metric, *extra]
    runner = runner_class(*parse_args(*classes, argv))
    runner.run()
    key = f"eval_{best_metric}"
    return runner, {entry["step"]: entry for entry in runner.trainer.state.log_history if key in entry}
def test_trainer_logs_retrieval_metrics_and_keeps_the_best(tiny_bert, tmp_path):
    from FlagEmbedding import FlagModel

    runner, logged = train_with_evaluation(EncoderOnlyEmbedderRunner, CLASSES, tiny_bert, tmp_path, "ndcg_at_10",
                                           "--sentence_pooling_method", "mean")
    assert sorted(logged) == [2, 4]
    docids = list(CORPUS)
    for step, entry in logged.items():
        model = FlagModel(str(tmp_path / "out" / f"checkpoint-{step}"), pooling_method="mean", devices="cpu",
                          use_fp16=False, query_max_length=32, passage_max_length=128)
        scores = model.encode_queries(list(QUERIES.values())) @ model.encode_corpus(
            [passage_text(CORPUS[d]) for d in docids]).T
        run = {qid: {docids[j]: float(s) for j, s in enumerate(row)} for qid, row in zip(QUERIES, scores)}
        ndcg, _, recall, _ = evaluate_metrics(QRELS, run, [10, 100])
        assert entry["eval_ndcg_at_10"] == pytest.approx(ndcg["NDCG@10"], abs=1e-5)
        assert entry["eval_recall_at_100"] == pytest.approx(recall["Recall@100"], abs=1e-5)
    best = max(logged, key=lambda step: (logged[step]["eval_ndcg_at_10"], -step))
    assert runner.trainer.state.best_model_checkpoint.endswith(f"checkpoint-{best}")
    texts = list(QUERIES.values())
    with torch.no_grad():
        final = runner.trainer.model.eval().encode(dict(runner.tokenizer(texts, padding=True, return_tensors="pt")))
    best_model = FlagModel(str(tmp_path / "out" / f"checkpoint-{best}"), pooling_method="mean", devices="cpu",
                           use_fp16=False)
    torch.testing.assert_close(final, torch.from_numpy(best_model.encode(texts)), rtol=1e-4, atol=1e-5)


def test_missing_qrels_is_a_clear_error(tmp_path):
    from FlagEmbedding.retrieval.training_eval import RetrievalEvaluation

    beir = write_beir_layout(str(tmp_path / "beir"))
    with pytest.raises(ValueError, match=r"^--eval_retrieval_dir .*beir: .*qrels/dev\.tsv is missing \(a BEIR-layout "
                                         r"folder with corpus\.jsonl, queries\.jsonl and qrels/dev\.tsv is "
                                         r"expected\)\.$"):
        RetrievalEvaluation(beir, "dev")
    assert len(RetrievalEvaluation(beir, "test")) == len(QUERIES)


def test_m3_trainer_logs_sparse_colbert_and_all_metrics(tiny_xlmr_m3, tmp_path):
    """Every logged M3 metric equals the one of the saved checkpoint scored pair by pair with
    ``BGEM3FlagModel.compute_score`` (an independent path), and ``all_ndcg_at_10`` picks the best checkpoint."""
    from FlagEmbedding import BGEM3FlagModel
    from FlagEmbedding.finetune.embedder.encoder_only.m3 import (
        EncoderOnlyEmbedderM3DataArguments,
        EncoderOnlyEmbedderM3ModelArguments,
        EncoderOnlyEmbedderM3Runner,
        EncoderOnlyEmbedderM3TrainingArguments,
    )

    runner, logged = train_with_evaluation(
        EncoderOnlyEmbedderM3Runner, (EncoderOnlyEmbedderM3ModelArguments, EncoderOnlyEmbedderM3DataArguments,
                                      EncoderOnlyEmbedderM3TrainingArguments),
        tiny_xlmr_m3, tmp_path, "all_ndcg_at_10", "--unified_finetuning", "True")
    assert sorted(logged) == [2, 4]
    docids = list(CORPUS)
    texts = [passage_text(CORPUS[d]) for d in docids]
    for step, entry in logged.items():
        model = BGEM3FlagModel(str(tmp_path / "out" / f"checkpoint-{step}"), devices="cpu", use_fp16=False)
        runs = {"dense": {}, "sparse": {}, "colbert": {}, "all": {}}
        for qid, query in QUERIES.items():
            scores = model.compute_score([[query, text] for text in texts], max_query_length=32,
                                         max_passage_length=128, weights_for_different_modes=[1.0, 0.3, 1.0])
            runs["dense"][qid] = dict(zip(docids, scores["dense"]))
            runs["sparse"][qid] = {d: s for d, s in zip(docids, scores["sparse"]) if s > 0}
            runs["colbert"][qid] = dict(zip(docids, scores["colbert"]))  # dense top 100 = every document
            runs["all"][qid] = dict(zip(docids, scores["colbert+sparse+dense"]))
        for method, run in runs.items():
            ndcg, _, recall, _ = evaluate_metrics(QRELS, run, [10, 100])
            prefix = "eval_" if method == "dense" else f"eval_{method}_"
            assert entry[prefix + "ndcg_at_10"] == pytest.approx(ndcg["NDCG@10"], abs=1e-5), (step, method)
            assert entry[prefix + "recall_at_100"] == pytest.approx(recall["Recall@100"], abs=1e-5), (step, method)
    best = max(logged, key=lambda step: (logged[step]["eval_all_ndcg_at_10"], -step))
    assert runner.trainer.state.best_model_checkpoint.endswith(f"checkpoint-{best}")
    # the BEIR CLI's ``all`` search of the best checkpoint reports the logged values
    from FlagEmbedding.evaluation.beir.__main__ import main

    write_beir_layout(str(tmp_path / "data" / "scifact"))
    main(["--eval_name", "beir", "--dataset_dir", str(tmp_path / "data"), "--dataset_names", "scifact",
          "--splits", "test", "--output_dir", str(tmp_path / "cli"), "--eval_output_path", str(tmp_path / "cli.md"),
          "--k_values", "10", "100", "--eval_metrics", "ndcg_at_10", "recall_at_100", "--devices", "cpu",
          "--embedder_name_or_path", str(tmp_path / "out" / f"checkpoint-{best}"),
          "--embedder_model_class", "encoder-only-m3", "--embedder_query_max_length", "32",
          "--embedder_passage_max_length", "128", "--search_method", "all"])
    (results,) = glob.glob(str(tmp_path / "cli" / "*@all*" / "NoReranker" / "EVAL" / "eval_results.json"))
    cli = read_json(results)["scifact-test"]
    assert cli["ndcg_at_10"] == pytest.approx(logged[best]["eval_all_ndcg_at_10"], abs=1e-5)
    assert cli["recall_at_100"] == pytest.approx(logged[best]["eval_all_recall_at_100"], abs=1e-5)


def test_training_m3_embedder_runs_the_given_modules_in_place(tiny_xlmr_m3):
    """The wrapper encodes with the very modules given (not loaded, copied or cast: a float64 network stays
    float64) and matches ``BGEM3FlagModel`` loaded from the same folder."""
    from transformers import AutoTokenizer

    from FlagEmbedding import BGEM3FlagModel
    from FlagEmbedding.finetune.embedder.encoder_only.m3.evaluation import TrainingM3Embedder
    from FlagEmbedding.inference.embedder.encoder_only.m3_model import M3Model

    network = M3Model.from_pretrained(tiny_xlmr_m3, dtype=torch.float64)
    pointers = [p.data_ptr() for p in network.parameters()]
    wrapped = TrainingM3Embedder(network, AutoTokenizer.from_pretrained(tiny_xlmr_m3), batch_size=4)
    texts = [passage_text(CORPUS[d]) for d in CORPUS]
    got = wrapped.encode_corpus(texts, return_sparse=True, return_colbert_vecs=True)
    assert wrapped.model is network
    assert [p.data_ptr() for p in network.parameters()] == pointers
    assert {p.dtype for p in network.parameters()} == {torch.float64}
    expected = BGEM3FlagModel(tiny_xlmr_m3, devices="cpu", use_fp16=False, batch_size=4).encode_corpus(
        texts, return_sparse=True, return_colbert_vecs=True)
    np.testing.assert_allclose(got["dense_vecs"], expected["dense_vecs"], atol=1e-5)
    for mine, theirs in zip(got["colbert_vecs"], expected["colbert_vecs"]):
        np.testing.assert_allclose(mine, theirs, atol=1e-5)
    for mine, theirs in zip(got["lexical_weights"], expected["lexical_weights"]):
        assert sorted(mine) == sorted(theirs)
        np.testing.assert_allclose([mine[k] for k in sorted(mine)], [theirs[k] for k in sorted(mine)], atol=1e-5)
