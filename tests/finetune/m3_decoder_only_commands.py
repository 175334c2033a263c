"""Test support for fine-tuning BGE-M3, decoder-only embedders and LLM rerankers: the documented commands 2, 3,
4, 6, 7 (+ same-dataset variants), running them in this process (one process instead of torchrun), and a tiny
8-query data set for the overfit checks."""
from __future__ import annotations

import contextlib
import dataclasses
import os
import runpy
import sys
from typing import Any, Iterator, List, Sequence

import pytest
import torch
import torch.distributed as dist

from tests.helpers.files import write_jsonl
from tests.helpers.training import (EMB, EMBTR, HEAD, RRTR, SAME_DATASET, TR, localize, module_args,
                                    shipped_script_args, without, without_missing_deepspeed)

LORA = " --use_lora True --lora_rank 32 --lora_alpha 64"
TARGETS = " --target_modules q_proj k_proj v_proj o_proj gate_proj down_proj up_proj"
COMMAND_2 = (
    HEAD.format(module="FlagEmbedding.finetune.embedder.encoder_only.m3")
    + " --model_name_or_path BAAI/bge-m3 " + EMB + " --query_max_len 512 --passage_max_len 512"
    " --knowledge_distillation False --output_dir ./test_encoder_only_m3_bge-m3 " + TR
    + " --learning_rate 1e-5 --fp16 --num_train_epochs 4 --deepspeed ds_stage0.json " + EMBTR
    + " --sentence_pooling_method cls --kd_loss_type m3_kd_loss --unified_finetuning True --use_self_distill True"
    " --fix_encoder False --self_distill_start_step 0"
)
COMMAND_3 = (
    HEAD.format(module="FlagEmbedding.finetune.embedder.decoder_only.base")
    + " --model_name_or_path BAAI/bge-multilingual-gemma2" + LORA + TARGETS
    + " --additional_special_tokens '<instruct>' '<query>' --save_merged_lora_model True " + EMB
    + " --query_max_len 512 --passage_max_len 512"
    " --query_instruction_for_retrieval 'Given a query, retrieve passages that are relevant to the query.'"
    " --query_instruction_format '<instruct>{}\\n<query>{}' --knowledge_distillation False"
    " --output_dir ./test_decoder_only_base_bge-multilingual-gemma2 " + TR
    + " --learning_rate 1e-4 --fp16 --num_train_epochs 4 --deepspeed ds_stage1.json " + EMBTR
    + " --sentence_pooling_method last_token --kd_loss_type m3_kd_loss"
)
COMMAND_4 = (
    HEAD.format(module="FlagEmbedding.finetune.embedder.decoder_only.icl")
    + " --model_name_or_path BAAI/bge-en-icl" + LORA + TARGETS
    + " --additional_special_tokens '<instruct>' '<query>' '<response>' --save_merged_lora_model True " + EMB
    + " --query_max_len 2048 --passage_max_len 512"
    " --query_instruction_for_retrieval 'Given a query, retrieve passages that are relevant to the query.'"
    " --query_instruction_format '<instruct>{}\\n<query>{}' --knowledge_distillation True"
    " --same_dataset_within_batch True --small_threshold 0 --drop_threshold 0 --example_query_max_len 256"
    " --example_passage_max_len 256 --retrieval_use_examples True --icl_suffix_str '\\n<response>'"
    " --output_dir ./test_decoder_only_base_bge-en-icl_sd " + TR
    + " --learning_rate 1e-4 --fp16 --num_train_epochs 4 --deepspeed ds_stage1.json " + EMBTR
    + " --sentence_pooling_method last_token --kd_loss_type kl_div"
)
COMMAND_6 = (
    HEAD.format(module="FlagEmbedding.finetune.reranker.decoder_only.base")
    + " --model_name_or_path BAAI/bge-reranker-v2-gemma" + LORA
    + " --use_flash_attn True --target_modules q_proj k_proj v_proj o_proj --save_merged_lora_model True"
    " --model_type decoder --train_data ./example_data/prompt_based/examples.jsonl --cache_path ~/.cache"
    " --train_group_size 8 --query_max_len 512 --passage_max_len 512 --pad_to_multiple_of 8"
    " --knowledge_distillation True --query_instruction_for_rerank 'A: ' --query_instruction_format '{}{}'"
    " --passage_instruction_for_rerank 'B: ' --passage_instruction_format '{}{}'"
    " --output_dir ./test_decoder_only_base_bge-reranker-v2-gemma " + TR
    + " --learning_rate 2e-4 --bf16 --num_train_epochs 1 " + RRTR
)
COMMAND_7 = (
    COMMAND_6.replace("reranker.decoder_only.base", "reranker.decoder_only.layerwise")
    .replace("BAAI/bge-reranker-v2-gemma", "BAAI/bge-reranker-v2-minicpm-layerwise")
    .replace("--model_type decoder", "--model_type decoder --model_type from_finetuned_model --start_layer 8"
             " --head_multi True --head_type simple --trust_remote_code True")
    .replace("./test_decoder_only_base_bge-reranker-v2-gemma", "./test_decoder_only_base_bge-reranker-v2-minicpm-layerwise")
)
COMMAND_2_SD = COMMAND_2.replace("./test_encoder_only_m3_bge-m3", "./test_encoder_only_m3_bge-m3_sd") + SAME_DATASET
COMMAND_3_SD = (COMMAND_3.replace("./test_decoder_only_base_bge-multilingual-gemma2",
                                  "./test_decoder_only_base_bge-multilingual-gemma2_sd") + SAME_DATASET)

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples",
                        "finetune")
EMBEDDER_DATA = os.path.join(EXAMPLES, "embedder")
RERANKER_DATA = os.path.join(EXAMPLES, "reranker")
#: flags that need a GPU (mixed precision, DeepSpeed, flash-attn): dropped when there is none, with their value
GPU_FLAGS = {"--fp16": False, "--bf16": False, "--deepspeed": True, "--use_flash_attn": True}


def training_args_fields() -> set:
    """Option names of the training arguments (``warmup_ratio`` left transformers 5.x at some point)."""
    from FlagEmbedding.abc.finetune.embedder import AbsEmbedderTrainingArguments

    return {f.name for f in dataclasses.fields(AbsEmbedderTrainingArguments)}


def local_args(command: str, model: str, data_dir: str, tmp: str, steps: int = 2) -> List[str]:
    """The command's module arguments made local, GPU-only flags dropped on CPU, limited to ``steps`` steps."""
    args = module_args(localize(command, model, data_dir, tmp))
    if not torch.cuda.is_available():
        for flag, takes_value in GPU_FLAGS.items():
            args = without(args, flag, takes_value)
    if "warmup_ratio" not in training_args_fields():
        args = without(args, "--warmup_ratio", True)
    return args + ["--max_steps", str(steps), "--report_to", "none", "--dataloader_pin_memory", "False"]


def module_of(command: str) -> str:
    """The ``-m`` module of a documented command."""
    parts = command.split()
    return parts[parts.index("-m") + 1]


def run_module(module: str, args: Sequence[str]) -> None:
    """Run ``python -m module args`` in this process (its ``__main__``, exactly as the launcher would)."""
    saved = sys.argv
    sys.argv = [module] + list(args)
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=False)
    finally:
        sys.argv = saved


@contextlib.contextmanager
def single_process_group(folder: str) -> Iterator[None]:
    """A 1-process gloo group (what ``torchrun --nproc_per_node 1`` provides) for ``--negatives_cross_device``."""
    if dist.is_initialized():
        yield
        return
    dist.init_process_group("gloo", init_method=f"file://{os.path.join(folder, 'pg')}", rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def check_shipped_script(script: str, command: str, classes: Sequence[type], tmp: str) -> None:
    """The example script passes the documented command's flags: both parse to equal argument dataclasses.

    ``script`` is relative to ``examples/finetune/<embedder|reranker>`` (the scripts' working directory); on a
    machine without a GPU ``--bf16`` is dropped from both (it cannot be parsed there).
    """
    from shlex import split

    from FlagEmbedding.finetune.common.cli import parse_args

    side = EMBEDDER_DATA if "embedder" in module_of(command) else RERANKER_DATA
    from_script = shipped_script_args(os.path.join(side, script), side, tmp)
    documented = module_args(split(
        command.replace("ds_stage0.json", "../ds_stage0.json").replace("ds_stage1.json", "../ds_stage1.json")
        .replace("$HF_HUB_CACHE", os.path.join(tmp, "hub")).replace("~/.cache", os.path.expanduser("~/.cache"))))
    assert from_script.count("--bf16") == documented.count("--bf16")
    if not torch.cuda.is_available():
        from_script, documented = without(from_script, "--bf16", False), without(documented, "--bf16", False)
    from_script, documented = without_missing_deepspeed(from_script), without_missing_deepspeed(documented)
    saved = os.getcwd()
    os.chdir(side)
    try:
        parsed_script, parsed_documented = parse_args(*classes, from_script), parse_args(*classes, documented)
    finally:
        os.chdir(saved)
    assert parsed_script[0] == parsed_documented[0] and parsed_script[1] == parsed_documented[1]
    assert parsed_script[2].to_dict() == parsed_documented[2].to_dict()


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    """Run a module's tiny models on one intra-op thread (import this fixture into a test module): with several
    threads on a busy machine the spinning workers make tiny steps ~50x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---- overfit data: 8 distinct queries, each with its own positive; negatives are the other positives ----------
OVERFIT_QUERIES = ["capital of France", "giant panda bear", "quick brown fox", "dense vectors retrieval",
                   "sparse multi-vector M3", "hello how are you", "Yes or No answer", "numbers and symbols"]
OVERFIT_PASSAGES = ["Paris is the capital of France.", "The giant panda is a bear species endemic to China.",
                    "The quick brown fox jumps over the lazy dog.",
                    "Deep learning models embed text into dense vectors for retrieval.",
                    "BGE M3 supports dense, sparse and multi-vector retrieval.",
                    "Hi! Hello there, how are you doing today?", "Yes or No: does the passage answer the query?",
                    "numbers 0 1 2 3 4 5 6 7 8 9 and symbols"]


def without_dropout(model_dir: str, folder: str) -> str:
    """A copy of a tiny checkpoint with every dropout probability set to 0 (hidden size 32 drowns in dropout)."""
    import json
    import shutil

    shutil.copytree(model_dir, folder)
    config_path = os.path.join(folder, "config.json")
    with open(config_path, encoding="utf-8") as handle:
        config = json.load(handle)
    for key in list(config):
        if "dropout" in key and isinstance(config[key], float):
            config[key] = 0.0
    with open(config_path, "w", encoding="utf-8") as handle:
        json.dump(config, handle)
    return folder


def write_overfit_data(folder: str, num_neg: int = 3, **extra: Any) -> str:
    """``train.jsonl`` with the 8 overfit queries (``num_neg`` negatives each: the next positives)."""
    rows = [{"query": q, "pos": [OVERFIT_PASSAGES[i]],
             "neg": [OVERFIT_PASSAGES[(i + k) % 8] for k in range(1, num_neg + 1)], **extra}
            for i, q in enumerate(OVERFIT_QUERIES)]
    return write_jsonl(os.path.join(folder, "train.jsonl"), rows)


def overfit_args(data: str, output_dir: str, steps: int, learning_rate: float, group_size: int = 4) -> List[str]:
    """Training arguments of an overfit run: all 8 queries in every batch, no checkpoints."""
    return ["--train_data", data, "--output_dir", output_dir, "--max_steps", str(steps),
            "--learning_rate", str(learning_rate), "--per_device_train_batch_size", "8",
            "--train_group_size", str(group_size), "--report_to", "none", "--save_strategy", "no",
            "--dataloader_pin_memory", "False", "--seed", "1", "--logging_steps", "1000", "--lr_scheduler_type", "constant"]
