"""Encoder-only embedder: documented commands, saved checkpoints, resuming, runner checks."""
from __future__ import annotations

import functools
import shlex
import json
import os
import re
import sys

import numpy as np
import pytest
import torch
from transformers import TrainerCallback

from FlagEmbedding.finetune.common.cli import parse_args
from FlagEmbedding.finetune.embedder.encoder_only.base import (
    BiEncoderOnlyEmbedderModel,
    EncoderOnlyEmbedderDataArguments,
    EncoderOnlyEmbedderModelArguments,
    EncoderOnlyEmbedderRunner,
    EncoderOnlyEmbedderTrainer,
    EncoderOnlyEmbedderTrainingArguments,
)
from tests.helpers.files import write_jsonl
from tests.helpers.training import (HAS_DEEPSPEED, COMMAND_1, COMMAND_1_SD, EXAMPLES, build_runner, localize,
                                    module_args, record, run_subprocess, runnable_here, without_missing_deepspeed,
                                    shipped_script_args)

CLASSES = (EncoderOnlyEmbedderModelArguments, EncoderOnlyEmbedderDataArguments, EncoderOnlyEmbedderTrainingArguments)
build = functools.partial(build_runner, EncoderOnlyEmbedderRunner, CLASSES,
                          flags=("--logging_steps", "1", "--temperature", "0.05", "--seed", "7"))
EXAMPLE_DATA_DIR = os.path.join(EXAMPLES, "embedder")
TEXTS = ["what is a panda?", "The giant panda is a bear species endemic to China.", "Paris is the capital of France."]


def parsed(command, model, tmp_path):
    return parse_args(*CLASSES, without_missing_deepspeed(
        module_args(localize(command, model, EXAMPLE_DATA_DIR, str(tmp_path)))))


@pytest.mark.parametrize("command", [COMMAND_1, COMMAND_1_SD], ids=["standard", "same_dataset"])
def test_documented_commands_parse(command, tiny_bert, tmp_path):
    model_args, data_args, training_args = parsed(command, tiny_bert, tmp_path)
    assert model_args.model_name_or_path == tiny_bert and model_args.cache_dir == str(tmp_path / "cache")
    assert len(data_args.train_data) == 4 and data_args.train_group_size == 8 and data_args.pad_to_multiple_of == 8
    assert data_args.query_instruction_for_retrieval == "Represent this sentence for searching relevant passages: "
    assert (data_args.query_max_len, data_args.passage_max_len) == (512, 512)
    assert data_args.same_dataset_within_batch == (command == COMMAND_1_SD)
    assert data_args.knowledge_distillation == (command == COMMAND_1_SD)
    assert training_args.overwrite_output_dir and training_args.fp16 and training_args.negatives_cross_device
    assert training_args.warmup_steps == 0.1 and training_args.save_steps == 1000
    assert training_args.deepspeed == (os.path.join(EXAMPLES, "ds_stage0.json") if HAS_DEEPSPEED else None)
    assert (training_args.temperature, training_args.sentence_pooling_method, training_args.kd_loss_type) == (
        0.02, "cls", "kl_div")


@pytest.mark.parametrize("command", [COMMAND_1, COMMAND_1_SD], ids=["standard", "same_dataset"])
def test_documented_command_trains_and_saves(command, tiny_bert, tmp_path):
    """One-process torchrun of the exact command (+ ``--max_steps 2``); DeepSpeed stage 0 when installed."""
    argv = runnable_here(localize(command, tiny_bert, EXAMPLE_DATA_DIR, str(tmp_path)) + ["--max_steps", "2"])
    process = run_subprocess(argv)
    output = tmp_path / ("test_encoder_only_base_bge-large-en-v1.5" + ("_sd" if command == COMMAND_1_SD else ""))
    # the closing summary line: where the model went, steps, last loss, duration
    assert re.search(rf" - INFO - FlagEmbedding\.finetune\.common\.cli - saved the model to .*{re.escape(output.name)}, "
                     r"2 steps, final loss \d+\.\d{4}, (\d+\.\d s|\d+ min \d+ s)$", process.stderr, re.M), \
        process.stderr[-2000:]
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "training_args.bin"} <= set(os.listdir(output))
    from FlagEmbedding import FlagModel

    vectors = FlagModel(str(output), devices="cpu", use_fp16=False).encode(TEXTS)
    assert vectors.shape == (3, 32) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def small_data(tmp_path, count=8, num_neg=5):
    return write_jsonl(str(tmp_path / "data" / "train.jsonl"), [record(i, num_neg=num_neg) for i in range(count)])


def test_saved_checkpoints_load_with_flagmodel_and_match_the_trained_model(tiny_bert, tmp_path):
    from FlagEmbedding import FlagModel

    runner = build(tiny_bert, small_data(tmp_path), tmp_path / "out", "--max_steps", "3", "--save_steps", "3",
                   "--sentence_pooling_method", "mean")
    runner.run()
    model = runner.trainer.model.eval()
    features = runner.tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        trained = model.encode(dict(features)).numpy()
    for folder in (tmp_path / "out", tmp_path / "out" / "checkpoint-3"):
        loaded = FlagModel(str(folder), pooling_method="mean", devices="cpu", use_fp16=False).encode(TEXTS)
        np.testing.assert_allclose(loaded, trained, rtol=1e-4, atol=1e-5)
    untrained = FlagModel(tiny_bert, pooling_method="mean", devices="cpu", use_fp16=False).encode(TEXTS)
    assert not np.allclose(untrained, trained, atol=1e-3)  # training changed the weights


class StopAfter(TrainerCallback):
    """Simulates an interrupted run: stop after ``step`` optimizer steps."""

    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            control.should_training_stop = True


def step_losses(runner):
    return {entry["step"]: entry["loss"] for entry in runner.trainer.state.log_history if "loss" in entry}


def test_resume_from_checkpoint_reaches_the_same_final_loss(tiny_bert, tmp_path):
    data = small_data(tmp_path, count=12, num_neg=6)
    common = ("--max_steps", "5", "--save_steps", "2")
    full = build(tiny_bert, data, tmp_path / "full", *common)
    full.run()
    interrupted = build(tiny_bert, data, tmp_path / "resumed", *common)
    interrupted.trainer.add_callback(StopAfter(2))
    interrupted.run()
    assert interrupted.trainer.state.global_step == 2 and (tmp_path / "resumed" / "checkpoint-2").is_dir()
    resumed = build(tiny_bert, data, tmp_path / "resumed", *common, "--resume_from_checkpoint",
                    str(tmp_path / "resumed" / "checkpoint-2"))
    resumed.run()
    expected, got = step_losses(full), step_losses(resumed)  # steps 1-2 come from the checkpoint's state
    assert sorted(got) == sorted(expected) == [1, 2, 3, 4, 5]
    assert [got[s] for s in (3, 4, 5)] == pytest.approx([expected[s] for s in (3, 4, 5)], rel=1e-4)
    for (name, a), (_, b) in zip(full.model.named_parameters(), resumed.model.named_parameters()):
        assert torch.allclose(a, b, atol=1e-5), name


def test_fix_position_embedding_freezes_them(tiny_bert, tmp_path):
    runner = build(tiny_bert, small_data(tmp_path), tmp_path / "out", "--max_steps", "1",
                   "--fix_position_embedding", "--save_strategy", "no")
    frozen = {n: p.detach().clone() for n, p in runner.model.named_parameters() if "position_embeddings" in n}
    assert frozen and all(not p.requires_grad for n, p in runner.model.named_parameters() if n in frozen)
    runner.run()
    for name, parameter in runner.model.named_parameters():
        if name in frozen:
            assert torch.equal(parameter, frozen[name])


def test_output_dir_guard_only_with_do_train(tiny_bert, tmp_path):
    output = tmp_path / "out"
    output.mkdir()
    (output / "old.txt").write_text("x")
    data = small_data(tmp_path)
    with pytest.raises(ValueError, match=r"Output directory \(.*out\) already exists and is not empty\. "
                                         r"Use --overwrite_output_dir to overcome\."):
        build(tiny_bert, data, output, "--do_train")
    build(tiny_bert, data, output, "--do_train", "--overwrite_output_dir")
    build(tiny_bert, data, output)


def test_trainer_accepts_tokenizer_or_processing_class(tiny_bert, tmp_path):
    runner = build(tiny_bert, small_data(tmp_path), tmp_path / "out")
    for keyword in ("tokenizer", "processing_class"):
        trainer = EncoderOnlyEmbedderTrainer(model=runner.model, args=runner.training_args,
                                             train_dataset=runner.train_dataset, data_collator=runner.data_collator,
                                             **{keyword: runner.tokenizer})
        assert trainer.processing_class is runner.tokenizer
    assert isinstance(runner.model, BiEncoderOnlyEmbedderModel)


def test_unknown_flag_is_an_error(tiny_bert, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(*CLASSES, ["--model_name_or_path", tiny_bert, "--output_dir", str(tmp_path),
                              "--no_such_flag", "1"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("error: unrecognized arguments: --no_such_flag 1 (see `")


def test_deepspeed_configs_match_the_spec():
    stage0 = json.load(open(os.path.join(EXAMPLES, "ds_stage0.json")))
    stage1 = json.load(open(os.path.join(EXAMPLES, "ds_stage1.json")))
    assert stage0["zero_optimization"] == {"stage": 0}
    assert stage0["fp16"] == {"enabled": "auto", "loss_scale": 0, "loss_scale_window": 1000,
                              "initial_scale_power": 12, "hysteresis": 2, "min_loss_scale": 1}
    assert stage0["bf16"] == {"enabled": "auto"} and stage0["steps_per_print"] == 100
    assert stage1["zero_optimization"] == {"stage": 1, "reduce_bucket_size": 5e8}
    scaler = {"enabled": "auto", "loss_scale": 0, "loss_scale_window": 1000, "initial_scale_power": 10,
              "hysteresis": 2, "min_loss_scale": 1}
    assert stage1["fp16"] == scaler and stage1["steps_per_print"] == 1000
    # the original also put the fp16 loss-scale keys under bf16; current DeepSpeed rejects them there
    assert stage1["bf16"] == {"enabled": "auto"}
    auto4 = {"lr": "auto", "betas": "auto", "eps": "auto", "weight_decay": "auto"}
    assert stage0["optimizer"] == {"type": "AdamW", "params": auto4}
    assert stage1["optimizer"] == {"type": "AdamW", "params": {**auto4, "torch_adam": True}}
    for config in (stage0, stage1):
        assert config["scheduler"] == {"type": "WarmupDecayLR", "params": {
            "warmup_min_lr": "auto", "warmup_max_lr": "auto", "warmup_num_steps": "auto", "total_num_steps": "auto"}}
        for key in ("gradient_accumulation_steps", "gradient_clipping", "train_batch_size",
                    "train_micro_batch_size_per_gpu"):
            assert config[key] == "auto"
        assert config["wall_clock_breakdown"] is False


@pytest.mark.parametrize("script,command", [("base.sh", COMMAND_1), ("base_same_dataset.sh", COMMAND_1_SD)])
def test_shipped_scripts_pass_the_documented_flags(script, command, tmp_path, monkeypatch):
    args = shipped_script_args(os.path.join(EXAMPLE_DATA_DIR, "encoder_only", script), EXAMPLE_DATA_DIR,
                               str(tmp_path))
    monkeypatch.chdir(EXAMPLE_DATA_DIR)
    from_script = parse_args(*CLASSES, without_missing_deepspeed(args))
    documented = parse_args(*CLASSES, without_missing_deepspeed(module_args(shlex.split(
        command.replace("ds_stage0.json", "../ds_stage0.json").replace("$HF_HUB_CACHE", str(tmp_path / "hub"))
        .replace("~/.cache", os.path.expanduser("~/.cache"))))))
    assert from_script[0] == documented[0] and from_script[1] == documented[1]
    assert from_script[2].to_dict() == documented[2].to_dict()


def test_deepspeed_accepts_both_configs_with_bf16_and_fp16():
    precision = pytest.importorskip("deepspeed.runtime.precision_config")
    for name in ("ds_stage0.json", "ds_stage1.json"):
        config = json.load(open(os.path.join(EXAMPLES, name)))
        config["bf16"]["enabled"], config["fp16"]["enabled"] = True, False
        assert precision.get_bfloat16_config(config).enabled is True
        config["bf16"]["enabled"], config["fp16"]["enabled"] = False, True
        assert precision.get_float16_config(config).loss_scale == 0


@pytest.mark.skipif(not HAS_DEEPSPEED, reason="DeepSpeed is not installed (pip install --no-build-isolation deepspeed)")
def test_two_step_deepspeed_stage1_fine_tune_on_cpu(tiny_bert, tmp_path):
    """``--deepspeed ds_stage1.json`` through torchrun (1 process, gloo): two logged optimizer steps and a saved
    model that loads for inference (stage 0 runs in ``test_documented_command_trains_and_saves``)."""
    stage = 1
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"query": f"what is panda {i}", "pos": [TEXTS[i % 3]],
                                        "neg": [TEXTS[(i + 1) % 3], TEXTS[(i + 2) % 3]]}) + "\n" for i in range(8)),
                    encoding="utf-8")
    output = tmp_path / "out"
    result = run_subprocess([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "1", "-m",
                    "FlagEmbedding.finetune.embedder.encoder_only.base", "--model_name_or_path", tiny_bert,
                    "--train_data", str(data), "--output_dir", str(output), "--train_group_size", "3",
                    "--per_device_train_batch_size", "2", "--max_steps", "2", "--learning_rate", "1e-3",
                    "--deepspeed", os.path.join(EXAMPLES, f"ds_stage{stage}.json"), "--report_to", "none",
                    "--logging_steps", "1", "--save_strategy", "no"])
    logged = result.stdout + result.stderr
    assert logged.count("'loss':") == 2
    from FlagEmbedding import FlagModel

    vectors = FlagModel(str(output), devices="cpu", use_fp16=False).encode(TEXTS)
    assert vectors.shape == (3, 32) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
