"""One progress bar per stage and one summary line per job (FlagEmbedding.utils.progress)."""
from __future__ import annotations

import json
import logging
import math
import os
import re

import pytest

from FlagEmbedding.abc.inference.batching import run_length_sorted
from FlagEmbedding.utils.progress import JobSummary, StageBar, format_duration, in_job, in_steps, stage_bar
from tests.helpers import REPO

DEMO = os.path.join(REPO, "examples", "data", "demo")
DURATION = r"(\d+\.\d s|\d+ min \d+ s|\d+ h \d\d min)"


def bar_starts(text: str, desc: str) -> int:
    """How many bars named ``desc`` were drawn (each starts at ``0%``)."""
    return len(re.findall(re.escape(desc) + r":\s+0%", text))


@pytest.mark.parametrize("seconds, text", [
    (0, "0.0 s"), (0.44, "0.4 s"), (12.34, "12.3 s"), (59.94, "59.9 s"), (59.96, "1 min 0 s"), (60, "1 min 0 s"),
    (192, "3 min 12 s"), (192.6, "3 min 13 s"), (3599.4, "59 min 59 s"), (3600, "1 h 00 min"),
    (7500, "2 h 05 min"), (90061, "25 h 01 min"),
])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf])
def test_format_duration_refuses_what_is_not_a_duration(bad):
    with pytest.raises(ValueError, match=r"^seconds must be a finite number >= 0, got "):
        format_duration(bad)


def test_inner_bars_advance_the_open_stage_instead_of_drawing(capsys):
    calls = []
    with stage_bar(30, "Encoding corpus", unit="doc") as stage:
        for shard in range(3):  # an encode call per shard, each long enough to draw its own bar outside a stage
            with stage.part(10):
                run_length_sorted([5] * 10, 2, lambda batch: calls.append(len(batch)), desc="Inference Embeddings")
        assert stage.n == 30 and stage.total == 30
    err = capsys.readouterr().err
    assert bar_starts(err, "Encoding corpus") == 1 and "30/30" in err
    assert "Inference Embeddings" not in err and sum(calls) == 30
    run_length_sorted([5] * 10, 2, lambda batch: None, desc="Inference Embeddings")  # no open stage: its own bar
    assert bar_starts(capsys.readouterr().err, "Inference Embeddings") == 1


def test_a_part_scales_inner_bars_to_its_size_and_is_completed_at_its_end(capsys):
    with StageBar(12, "Reranking", unit="pair") as stage:
        with stage.part(4):  # an inner bar counting 40 units (e.g. passages split in chunks) is 4 pairs
            inner = stage_bar(40, "Compute Scores")
            inner.update(10)
            assert stage.n == 1
            inner.update(100)  # never past the part
            assert stage.n == 4
        with stage.part(8):  # no inner bar: the part is added when it ends
            assert stage.n == 4
        assert stage.n == 12
        with pytest.raises(RuntimeError), stage.part(5):  # an error leaves the part undone
            raise RuntimeError("boom")
        assert stage.n == 12
    assert in_job() is False


def test_in_steps_yields_slices_under_one_bar(capsys):
    assert list(in_steps(7, 3, "Searching", unit="query")) == [(0, 3), (3, 6), (6, 7)]
    err = capsys.readouterr().err
    assert bar_starts(err, "Searching") == 1 and "7/7" in err
    with pytest.raises(ValueError, match=r"^step must be a positive integer, got 0\.$"):
        list(in_steps(7, 0, "Searching"))


def test_tqdm_disable_turns_off_every_bar(monkeypatch, capsys):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    with stage_bar(4, "Encoding corpus", disable=False) as stage:  # an explicit disable=False does not win
        stage.update(4)
    run_length_sorted([3] * 8, 2, lambda batch: None, desc="Inference Embeddings")
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("TQDM_DISABLE", "0")
    with stage_bar(4, "Encoding corpus") as stage:
        stage.update(4)
    assert bar_starts(capsys.readouterr().err, "Encoding corpus") == 1


def test_job_summary_line_and_job_context(caplog):
    logger = logging.getLogger("FlagEmbedding.test_progress")
    with caplog.at_level(logging.INFO, logger=logger.name):
        with JobSummary(logger) as job:
            assert in_job()
            line = job.log("wrote out.jsonl (3 records)", "", "12 pairs scored")
        assert not in_job()
        loaded = job.log("Ready: embedding 'm'", took="models loaded in")
    assert re.fullmatch(r"wrote out\.jsonl \(3 records\), 12 pairs scored, " + DURATION, line)
    assert re.fullmatch(r"Ready: embedding 'm', models loaded in " + DURATION, loaded)
    assert [r.getMessage() for r in caplog.records] == [line, loaded]


def test_evaluation_shows_one_bar_per_stage_and_ends_with_its_summary(tiny_bert, bert_reranker_dir, tmp_path,
                                                                       caplog, capsys):
    from FlagEmbedding.evaluation.custom.__main__ import main

    summary_path = tmp_path / "eval_results.md"
    with caplog.at_level(logging.INFO):
        main(["--eval_name", "demo", "--dataset_dir", DEMO, "--splits", "test",
              "--corpus_embd_save_dir", str(tmp_path / "embd"), "--corpus_embd_shard_size", "5",
              "--output_dir", str(tmp_path / "results"), "--search_top_k", "10", "--k_values", "1", "10",
              "--eval_output_path", str(summary_path), "--eval_metrics", "ndcg_at_10", "recall_at_10",
              "--embedder_name_or_path", tiny_bert, "--embedder_batch_size", "2", "--devices", "cpu",
              "--reranker_name_or_path", bert_reranker_dir, "--reranker_batch_size", "2", "--rerank_top_k", "3",
              "--reranker_max_length", "100", "--embedder_passage_max_length", "100"])
    err = capsys.readouterr().err
    # 16 passages in 4 cache shards, 8 queries, 8 x 3 reranked pairs: one bar each, with its total
    for desc, total in (("Encoding corpus", 16), ("Encoding queries", 8), ("Searching", 8), ("Reranking", 24)):
        assert bar_starts(err, desc) == 1, desc
        assert f"{total}/{total}" in err
    assert "Inference Embeddings" not in err and "Compute Scores" not in err  # joined their stage
    eval_results = json.loads((tmp_path / "results" / "bge-base-en-v1.5" / "bge-reranker-base" / "EVAL"
                               / "eval_results.json").read_text())
    lines = [r.getMessage() for r in caplog.records if r.name == "FlagEmbedding.abc.evaluation.runner"]
    expected = f"wrote {summary_path}, nDCG@10 {eval_results['test']['ndcg_at_10']} (demo/test), "
    assert lines[-1].startswith(expected) and re.fullmatch(DURATION, lines[-1][len(expected):]), lines[-1]
    assert summary_path.exists()


def test_training_summary_names_the_folder_the_steps_and_the_last_logged_loss():
    from transformers import TrainerState

    from FlagEmbedding.finetune.common.cli import training_summary

    state = TrainerState(global_step=12, log_history=[{"loss": 2.5, "step": 5}, {"loss": 1.23456, "step": 10},
                                                      {"train_loss": 1.9, "step": 12}])
    assert training_summary(state, "out/model") == ["saved the model to out/model", "12 steps", "final loss 1.2346"]
    state = TrainerState(global_step=3, log_history=[{"train_loss": 0.5, "step": 3}])  # no logging step reached
    assert training_summary(state, "m") == ["saved the model to m", "3 steps", "final loss 0.5000"]
    assert training_summary(TrainerState(global_step=0, log_history=[]), "m") == ["saved the model to m", "0 steps"]


def test_server_ready_line_names_models_endpoints_and_loading_time(tiny_bert, caplog):
    import asyncio

    from FlagEmbedding import FlagModel
    from FlagEmbedding.serve import EmbedderService, ServeSettings, Services
    from FlagEmbedding.serve.metrics import ServerMetrics
    from FlagEmbedding.serve.state import ServerState

    state = ServerState(ServeSettings(), ServerMetrics())
    service = EmbedderService(FlagModel(tiny_bert, devices="cpu"))

    async def start_and_stop() -> None:
        await state.load(lambda: Services(embedder=service))
        await state.stop()

    with caplog.at_level(logging.INFO, logger="FlagEmbedding.serve.app"):
        asyncio.run(start_and_stop())
    assert re.fullmatch(rf"Ready: embedding '{re.escape(service.model_id)}' on POST /v1/embeddings, API at GET /docs, "
                        rf"models loaded in {DURATION}", caplog.records[-1].getMessage())
