"""Argument dataclasses: names, defaults and command-line conventions."""
from __future__ import annotations

import logging
from dataclasses import fields

import pytest

from FlagEmbedding.finetune.common.cli import parse_args
from FlagEmbedding.abc.finetune.embedder import (
    AbsEmbedderDataArguments,
    AbsEmbedderModelArguments,
    AbsEmbedderTrainingArguments,
)
from FlagEmbedding.abc.finetune.reranker import (
    AbsRerankerDataArguments,
    AbsRerankerModelArguments,
    AbsRerankerTrainingArguments,
)

EMBEDDER = (AbsEmbedderModelArguments, AbsEmbedderDataArguments, AbsEmbedderTrainingArguments)
RERANKER = (AbsRerankerModelArguments, AbsRerankerDataArguments, AbsRerankerTrainingArguments)


def test_embedder_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "secret")
    model, data, training = parse_args(*EMBEDDER, ["--model_name_or_path", "m", "--output_dir", str(tmp_path)])
    assert model.token == "secret" and model.use_fast_tokenizer and not model.trust_remote_code
    assert {f.name: getattr(data, f.name) for f in fields(AbsEmbedderDataArguments)} == {
        "train_data": None, "cache_path": None, "train_group_size": 8, "query_max_len": 32, "passage_max_len": 128,
        "pad_to_multiple_of": None, "max_example_num_per_dataset": 100000000,
        "query_instruction_for_retrieval": None, "query_instruction_format": "{}{}", "knowledge_distillation": False,
        "passage_instruction_for_retrieval": None, "passage_instruction_format": "{}{}", "shuffle_ratio": 0.0,
        "same_dataset_within_batch": False, "small_threshold": 0, "drop_threshold": 0,
        "eval_retrieval_dir": None, "eval_retrieval_split": "test"}
    assert (training.negatives_cross_device, training.temperature, training.fix_position_embedding,
            training.sentence_pooling_method, training.normalize_embeddings, training.sub_batch_size,
            training.kd_loss_type, training.use_mrl, training.mrl_dims, training.overwrite_output_dir) == (
        False, 0.02, False, "cls", True, None, "kl_div", False, [], False)


def test_reranker_defaults(tmp_path):
    model, data, training = parse_args(*RERANKER, ["--model_name_or_path", "m", "--output_dir", str(tmp_path)])
    assert model.model_type == "encoder" and training.sub_batch_size is None
    assert (data.train_group_size, data.query_max_len, data.passage_max_len, data.max_len, data.sep_token,
            data.query_instruction_for_rerank, data.shuffle_ratio) == (8, 32, 128, 512, "\n", None, 0.0)


def test_cli_conventions(tmp_path):
    argv = ["--model_name_or_path", "m", "--output_dir", str(tmp_path), "--no_normalize_embeddings",
            "--use_mrl", "--mrl_dims", "64", "128", "--negatives_cross_device", "False", "--temperature", "0.1",
            "--temperature", "0.05", "--knowledge_distillation", "True"]
    _, data, training = parse_args(*EMBEDDER, argv)
    assert training.normalize_embeddings is False and training.use_mrl is True and training.mrl_dims == [64, 128]
    assert training.negatives_cross_device is False and training.temperature == 0.05  # last repeated value wins
    assert data.knowledge_distillation is True


@pytest.mark.parametrize("flag,value", [("--sentence_pooling_method", "max"), ("--kd_loss_type", "mse")])
def test_choices_are_enforced(tmp_path, flag, value):
    with pytest.raises(SystemExit):
        parse_args(*EMBEDDER, ["--model_name_or_path", "m", "--output_dir", str(tmp_path), flag, value])


def test_warmup_ratio_sets_warmup_steps(tmp_path):
    _, _, training = parse_args(*RERANKER, ["--model_name_or_path", "m", "--output_dir", str(tmp_path),
                                            "--warmup_ratio", "0.25", "--max_steps", "8"])
    assert training.get_warmup_steps(8) == 2
    with pytest.raises(ValueError, match=r"warmup_ratio must be in \[0, 1\), got 1.5."):
        parse_args(*RERANKER, ["--model_name_or_path", "m", "--output_dir", str(tmp_path), "--warmup_ratio", "1.5"])
    with pytest.raises(ValueError, match="Pass either --warmup_ratio or --warmup_steps, not both."):
        parse_args(*RERANKER, ["--model_name_or_path", "m", "--output_dir", str(tmp_path), "--warmup_ratio", "0.1",
                               "--warmup_steps", "5"])


def test_dead_flags_still_accepted_and_warn_when_set(tmp_path, caplog):
    from FlagEmbedding.finetune.embedder.decoder_only.base import arguments as decoder

    def warnings(classes, extra):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="FlagEmbedding.abc.finetune.common.arguments"):
            parse_args(*classes, ["--model_name_or_path", "m", "--output_dir", str(tmp_path)] + extra)
        return [r.getMessage() for r in caplog.records if r.name == "FlagEmbedding.abc.finetune.common.arguments"]

    assert warnings(RERANKER, ["--max_len", "512", "--overwrite_output_dir"]) == []  # the default value is silent
    assert warnings(RERANKER, ["--max_len", "256", "--sub_batch_size", "4"]) == [
        "--max_len has no effect (accepted for compatibility): lengths are set by --query_max_len and "
        "--passage_max_len.",
        "--sub_batch_size has no effect (accepted for compatibility): every group is scored in one forward pass."]
    decoder_classes = (decoder.DecoderOnlyEmbedderModelArguments, decoder.DecoderOnlyEmbedderDataArguments,
                       decoder.DecoderOnlyEmbedderTrainingArguments)
    assert warnings(decoder_classes, ["--peft_model_path", "adapter", "--use_slow_tokenizer", "True"]) == [
        "--peft_model_path has no effect (accepted for compatibility): continue from an adapter with --from_peft.",
        "--use_slow_tokenizer has no effect (accepted for compatibility): the tokenizer is chosen by "
        "--use_fast_tokenizer."]


def test_deepspeed_flag_without_the_package_is_one_clear_error(tmp_path, monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "deepspeed" else real_find_spec(name, *a))
    with pytest.raises(ImportError, match=r"^--deepspeed needs the DeepSpeed package, which is not installed: "
                                          r"install it with `pip install --no-build-isolation deepspeed` \(after torch\), or drop --deepspeed"):
        parse_args(*EMBEDDER, ["--model_name_or_path", "m", "--output_dir", str(tmp_path),
                               "--deepspeed", "ds_stage0.json"])
