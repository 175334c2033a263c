"""--eval_retrieval_dir: the fine-tuning Trainer logs nDCG@10 / recall@100 of the model being trained."""
from __future__ import annotations

import pytest
import torch

from FlagEmbedding.abc.evaluation.metrics import evaluate_metrics
from FlagEmbedding.abc.evaluation.naming import passage_text
from FlagEmbedding.abc.finetune.common.cli import parse_args
from FlagEmbedding.finetune.embedder.encoder_only.base import (
    EncoderOnlyEmbedderDataArguments,
    EncoderOnlyEmbedderModelArguments,
    EncoderOnlyEmbedderRunner,
    EncoderOnlyEmbedderTrainingArguments,
)
from tests.helpers.benchmarks import CORPUS, QRELS, QUERIES, write_beir_layout
from tests.helpers.files import write_jsonl
from tests.helpers.training import record

CLASSES = (EncoderOnlyEmbedderModelArguments, EncoderOnlyEmbedderDataArguments, EncoderOnlyEmbedderTrainingArguments)


def test_trainer_logs_retrieval_metrics_and_keeps_the_best(tiny_bert, tmp_path):
    from FlagEmbedding import FlagModel

    beir = write_beir_layout(str(tmp_path / "beir"))
    data = write_jsonl(str(tmp_path / "train.jsonl"), [record(i, num_neg=3) for i in range(8)])
    argv = ["--model_name_or_path", tiny_bert, "--train_data", data, "--output_dir", str(tmp_path / "out"),
            "--train_group_size", "2", "--per_device_train_batch_size", "2", "--report_to", "none",
            "--learning_rate", "1e-3", "--seed", "7", "--max_steps", "4", "--sentence_pooling_method", "mean",
            "--eval_retrieval_dir", beir, "--eval_retrieval_split", "test", "--eval_strategy", "steps",
            "--eval_steps", "2", "--save_strategy", "steps", "--save_steps", "2", "--load_best_model_at_end", "True",
            "--metric_for_best_model", "ndcg_at_10"]
    runner = EncoderOnlyEmbedderRunner(*parse_args(*CLASSES, argv))
    runner.run()
    logged = {entry["step"]: entry for entry in runner.trainer.state.log_history if "eval_ndcg_at_10" in entry}
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
    from FlagEmbedding.abc.finetune.embedder.retrieval_eval import RetrievalEvaluation

    beir = write_beir_layout(str(tmp_path / "beir"))
    with pytest.raises(ValueError, match=r"^--eval_retrieval_dir .*beir: .*qrels/dev\.tsv is missing \(a BEIR-layout "
                                         r"folder with corpus\.jsonl, queries\.jsonl and qrels/dev\.tsv is "
                                         r"expected\)\.$"):
        RetrievalEvaluation(beir, "dev")
    assert len(RetrievalEvaluation(beir, "test")) == len(QUERIES)
