"""``TrainingArguments`` flags removed by transformers 5: each is translated (one warning) or refused by name."""
from __future__ import annotations

import json
import logging
import os

import pytest

from FlagEmbedding.finetune.common.cli import parse_args
from FlagEmbedding.finetune.common.legacy_flags import LEGACY_TRAINING_FLAGS, translate_legacy_flags
from FlagEmbedding.finetune.embedder.encoder_only.base import (
    EncoderOnlyEmbedderDataArguments,
    EncoderOnlyEmbedderModelArguments,
    EncoderOnlyEmbedderTrainingArguments,
)
from FlagEmbedding.utils.cli import ArgumentParser

SPEC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "..", "shared",
                    "spec", "original-surface.json")
CLASSES = (EncoderOnlyEmbedderModelArguments, EncoderOnlyEmbedderDataArguments, EncoderOnlyEmbedderTrainingArguments)


def training(tmp_path, *flags):
    return parse_args(*CLASSES, ["--model_name_or_path", "m", "--output_dir", str(tmp_path), *flags])[2]


def test_the_table_covers_exactly_the_flags_transformers_5_removed():
    if not os.path.exists(SPEC):
        pytest.skip("../shared/spec/original-surface.json is not present")
    with open(SPEC, encoding="utf-8") as f:
        flags = json.load(f)["cli"]["FlagEmbedding.finetune.embedder.encoder_only.base"]["flags"]
    original = {option[2:] for option, meta in flags.items()
                if meta["origin"] == "transformers.training_args.TrainingArguments" and "-" not in option[2:]}
    current = {option[2:] for option in ArgumentParser(CLASSES).option_strings()}
    assert set(LEGACY_TRAINING_FLAGS) == original - current
    assert len(LEGACY_TRAINING_FLAGS) == 28


@pytest.mark.parametrize("flags,field,expected", [
    (["--per_gpu_train_batch_size", "3"], "per_device_train_batch_size", 3),
    (["--per-gpu-eval-batch-size=5"], "per_device_eval_batch_size", 5),
    (["--no_cuda"], "use_cpu", True),
    (["--no_cuda", "False"], "use_cpu", False),
    (["--group_by_length", "True"], "train_sampling_strategy", "group_by_length"),
    (["--adafactor"], "optim", "adafactor"),
    (["--push_to_hub_model_id", "me/model"], "hub_model_id", "me/model"),
    (["--torchdynamo", "eager"], "torch_compile_backend", "eager"),
    (["--include_inputs_for_metrics"], "include_for_metrics", ["inputs"]),
    (["--save_safetensors", "True", "--fp16_backend", "auto", "--past_index", "-1"], "save_strategy", "steps"),
])
def test_flags_with_an_equivalent_are_translated_with_one_warning(tmp_path, caplog, flags, field, expected):
    with caplog.at_level(logging.WARNING, logger="FlagEmbedding.finetune.common.legacy_flags"):
        args = training(tmp_path, *flags)
    value = getattr(args, field)
    assert (value.value if hasattr(value, "value") else value) == expected
    warnings = [r.getMessage() for r in caplog.records if r.name.endswith("legacy_flags")]
    assert len(warnings) == sum(flag.startswith("--") for flag in flags)
    assert all("is deprecated (removed in transformers 5); using" in w for w in warnings)


def test_logging_dir_becomes_the_tensorboard_environment_variable(monkeypatch):
    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    assert translate_legacy_flags(["--logging_dir", "/tmp/tb", "--seed", "3"]) == ["--seed", "3"]
    assert os.environ["TENSORBOARD_LOGGING_DIR"] == "/tmp/tb"


@pytest.mark.parametrize("flags,message", [
    (["--no_save_safetensors"], "--no_save_safetensors true is no longer supported by transformers 5; it was "
                                "replaced by always saving safetensors (.bin checkpoints are no longer written)."),
    (["--save_safetensors", "False"], "--save_safetensors False is no longer supported by transformers 5; it was "
                                      "replaced by always saving safetensors."),
    (["--fp16_opt_level", "O2"], "--fp16_opt_level O2 is no longer supported by transformers 5; it was replaced by "
                                 "torch AMP (apex levels are gone; use --fp16 or --bf16)."),
    (["--fsdp_transformer_layer_cls_to_wrap", "BertLayer"],
     '--fsdp_transformer_layer_cls_to_wrap BertLayer is no longer supported by transformers 5; it was replaced by '
     '--fsdp_config with {"transformer_layer_cls_to_wrap": [...]}.'),
    (["--use_ipex"], "--use_ipex true is no longer supported by transformers 5; it was replaced by nothing (Intel "
                     "Extension for PyTorch support was removed)."),
    (["--per_gpu_train_batch_size"], "--per_gpu_train_batch_size expects a value (it was replaced by "
                                     "--per_device_train_batch_size)."),
    (["--no_cuda", "maybe"], None),
])
def test_flags_that_would_change_training_without_an_equivalent_are_refused(tmp_path, flags, message):
    if message is None:  # "maybe" is not a boolean, so it is left for the parser, which rejects it as unknown
        with pytest.raises(SystemExit):
            training(tmp_path, *flags)
        return
    with pytest.raises(ValueError) as error:
        training(tmp_path, *flags)
    assert str(error.value) == message
