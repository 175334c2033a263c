"""Encoder-only reranker: documented command, data formats, saved checkpoints."""
from __future__ import annotations

import functools
import shlex
import os

import pytest
import torch
from transformers import AutoTokenizer

from FlagEmbedding.finetune.common.cli import parse_args
from FlagEmbedding.abc.finetune.reranker import (
    AbsLLMRerankerCollator,
    AbsLLMRerankerTrainDataset,
    AbsRerankerCollator,
    AbsRerankerDataArguments,
    AbsRerankerModelArguments,
    AbsRerankerTrainDataset,
    AbsRerankerTrainingArguments,
)
from FlagEmbedding.finetune.reranker.encoder_only.base import CrossEncoderModel, EncoderOnlyRerankerRunner
from tests.helpers.files import write_jsonl
from tests.helpers.training import (HAS_DEEPSPEED, COMMAND_5, EXAMPLES, PASSAGES, build_runner, localize, module_args,
                                    record, run_subprocess, runnable_here, shipped_script_args,
                                    without_missing_deepspeed)

CLASSES = (AbsRerankerModelArguments, AbsRerankerDataArguments, AbsRerankerTrainingArguments)
build = functools.partial(build_runner, EncoderOnlyRerankerRunner, CLASSES,
                          flags=("--knowledge_distillation", "True"))
EXAMPLE_DATA_DIR = os.path.join(EXAMPLES, "reranker")
PAIRS = [["what is a panda?", PASSAGES[0]], ["what is a panda?", PASSAGES[1]], ["capital of France", PASSAGES[1]]]


def test_documented_command_parses(tiny_reranker, tmp_path):
    model_args, data_args, training_args = parse_args(*CLASSES, without_missing_deepspeed(
        module_args(localize(COMMAND_5, tiny_reranker, EXAMPLE_DATA_DIR, str(tmp_path)))))
    assert model_args.model_name_or_path == tiny_reranker and model_args.model_type == "encoder"
    assert data_args.train_data == [os.path.join(EXAMPLE_DATA_DIR, "example_data/normal/examples.jsonl")]
    assert (data_args.train_group_size, data_args.query_max_len, data_args.passage_max_len) == (8, 256, 256)
    assert data_args.knowledge_distillation and data_args.pad_to_multiple_of == 8
    assert (training_args.learning_rate, training_args.weight_decay, training_args.num_train_epochs) == (6e-5, 0.01, 4)
    assert training_args.deepspeed == (os.path.join(EXAMPLES, "ds_stage0.json") if HAS_DEEPSPEED else None)
    assert training_args.fp16


def test_documented_command_trains_and_saves(tiny_reranker, tmp_path):
    """One-process torchrun of the exact command (+ ``--max_steps 2``); DeepSpeed stage 0 when installed."""
    argv = runnable_here(localize(COMMAND_5, tiny_reranker, EXAMPLE_DATA_DIR, str(tmp_path)) + ["--max_steps", "2"])
    run_subprocess(argv)
    output = tmp_path / "test_encoder_only_base_bge-reranker-base"
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
            "training_args.bin"} <= set(os.listdir(output))
    from FlagEmbedding import FlagReranker

    scores = FlagReranker(str(output), devices="cpu").compute_score(PAIRS)
    assert len(scores) == 3 and all(isinstance(s, float) for s in scores)


def test_checkpoints_load_with_flagreranker_and_match_the_trained_model(tiny_reranker, tmp_path):
    from FlagEmbedding import FlagReranker

    data = write_jsonl(str(tmp_path / "train.jsonl"), [record(i, scores=True) for i in range(8)])
    runner = build(tiny_reranker, data, tmp_path / "out", "--max_steps", "3", "--save_steps", "3")
    runner.run()
    model = runner.trainer.model.eval()
    assert isinstance(model, CrossEncoderModel)
    features = runner.tokenizer([q for q, _ in PAIRS], [p for _, p in PAIRS], padding=True, return_tensors="pt")
    with torch.no_grad():
        trained = model(pair=dict(features)).scores.view(-1).tolist()
    for folder in (tmp_path / "out", tmp_path / "out" / "checkpoint-3"):
        assert FlagReranker(str(folder), devices="cpu").compute_score(PAIRS) == pytest.approx(trained, abs=1e-5)
    before = FlagReranker(tiny_reranker, devices="cpu").compute_score(PAIRS)
    assert before != pytest.approx(trained, abs=1e-4)


def reranker_args(path, **kwargs):
    return AbsRerankerDataArguments(train_data=[path], **kwargs)


def test_encoder_pairs_match_the_tokenizer_and_respect_budgets(tiny_reranker, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_reranker)
    long_query = " ".join(["panda"] * 60)
    path = write_jsonl(str(tmp_path / "a.jsonl"), [record(0, num_neg=3), {**record(1), "query": long_query,
                                                                           "pos": [" ".join(["bear"] * 90)]}])
    dataset = AbsRerankerTrainDataset(reranker_args(path, train_group_size=4, query_max_len=16, passage_max_len=32),
                                      tokenizer, seed=0)
    encodings, scores = dataset[0]
    assert scores is None and len(encodings) == 4
    expected = tokenizer(record(0)["query"], record(0)["pos"][0], truncation="only_second", max_length=48)
    assert encodings[0]["input_ids"] == expected["input_ids"]
    long_pair = dataset[1][0][0]["input_ids"]
    q_ids = tokenizer(long_query, add_special_tokens=False)["input_ids"][:16 + 32 // 4]
    assert long_pair[:1 + len(q_ids)] == [tokenizer.cls_token_id] + q_ids  # query cut to its own budget
    assert len(long_pair) == 48  # passage side cut so the pair fits query_max_len + passage_max_len


def test_rerank_instructions_use_row_prompts(tiny_reranker, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_reranker)
    path = write_jsonl(str(tmp_path / "a.jsonl"), [record(0, query_prompt="Q: "), record(1, passage_prompt=None)])
    dataset = AbsRerankerTrainDataset(reranker_args(path, train_group_size=2, query_instruction_for_rerank="A: ",
                                                    passage_instruction_for_rerank="B: "), tokenizer)
    assert dataset.format_query(dataset.dataset[0]) == "Q: what is panda 0"
    assert dataset.format_query(dataset.dataset[1]) == "A: what is panda 1"
    assert dataset.format_passage(dataset.dataset[1], "text") == "B: text"
    plain = AbsRerankerTrainDataset(reranker_args(path, train_group_size=2), tokenizer)
    assert plain.format_query(plain.dataset[0]) == "what is panda 0"


def test_llm_format_and_collator(tiny_decoder, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_decoder)
    path = write_jsonl(str(tmp_path / "a.jsonl"), [record(0, num_neg=1, scores=True, prompt="Yes?"),
                                                   record(1, num_neg=1, scores=True)])
    args = reranker_args(path, train_group_size=2, query_max_len=8, passage_max_len=8, knowledge_distillation=True)
    dataset = AbsLLMRerankerTrainDataset(args, tokenizer, seed=0)

    def ids(text, limit=None):
        out = tokenizer(text, add_special_tokens=False)["input_ids"]
        return out if limit is None else out[:limit]

    encodings, scores = dataset[0]
    sep = ids("\n")
    first = ids(record(0)["query"], 8 + 8 // 4)
    room = 16 - len(ids("Yes?")) - len(sep) - len(first)
    expected = first + (sep + ids(record(0)["pos"][0], 8 + 8 // 2))[:room] + sep + ids("Yes?")
    assert encodings[0] == {"input_ids": expected, "attention_mask": [1] * len(expected)}
    default_prompt = ids("Given a query A and a passage B, determine whether the passage contains an answer to the "
                         "query by providing a prediction of either 'Yes' or 'No'.")
    assert dataset[1][0][0]["input_ids"][-len(default_prompt) - len(sep):] == sep + default_prompt
    collator = AbsLLMRerankerCollator(tokenizer=tokenizer, pad_to_multiple_of=8, padding=True, return_tensors="pt")
    batch = collator([dataset[0], dataset[1]])
    assert batch["pair"]["input_ids"].shape[0] == 4 and batch["pair"]["input_ids"].shape[1] % 8 == 0
    assert batch["pair"]["attention_mask"][:, 0].tolist().count(0) > 0  # left padding
    assert batch["teacher_scores"] == [1.0, 0.1, 1.0, 0.1]


def test_encoder_collator_pads_and_keeps_missing_teacher_none(tiny_reranker, tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_reranker)
    path = write_jsonl(str(tmp_path / "a.jsonl"), [record(0), record(1)])
    dataset = AbsRerankerTrainDataset(reranker_args(path, train_group_size=3), tokenizer)
    batch = AbsRerankerCollator(tokenizer=tokenizer, pad_to_multiple_of=8, padding=True,
                                return_tensors="pt")([dataset[0], dataset[1]])
    assert batch["pair"]["input_ids"].shape[0] == 6 and batch["pair"]["input_ids"].shape[1] % 8 == 0
    assert batch["teacher_scores"] is None


def test_shipped_script_passes_the_documented_flags(tmp_path, monkeypatch):
    args = shipped_script_args(os.path.join(EXAMPLE_DATA_DIR, "encoder_only", "base.sh"), EXAMPLE_DATA_DIR,
                               str(tmp_path))
    monkeypatch.chdir(EXAMPLE_DATA_DIR)
    from_script = parse_args(*CLASSES, without_missing_deepspeed(args))
    documented = parse_args(*CLASSES, without_missing_deepspeed(module_args(shlex.split(
        COMMAND_5.replace("ds_stage0.json", "../ds_stage0.json").replace("$HF_HUB_CACHE", str(tmp_path / "hub"))
        .replace("~/.cache", os.path.expanduser("~/.cache"))))))
    assert from_script[0] == documented[0] and from_script[1] == documented[1]
    assert from_script[2].to_dict() == documented[2].to_dict()
