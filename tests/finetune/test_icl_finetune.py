"""ICL embedder fine-tuning: in-context examples in training queries, the unescaped suffix, the example budget,
the documented command 4, the round trip into FlagICLModel / FlagAutoModel and an overfit check."""
from __future__ import annotations

import logging
import os
import random
from typing import Any, Dict, List, Sequence

import pytest
import torch

from tests.finetune import m3_decoder_only_commands as C
from tests.finetune.m3_decoder_only_commands import one_torch_thread  # noqa: F401 - autouse fixture
from tests.helpers.files import write_jsonl

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")
SUFFIX = "\n<response>"


class FirstChoices(random.Random):
    """Deterministic stand-in for the batch generator: first positive, first negatives, five examples."""

    def randrange(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def sample(self, population: Sequence[Any], k: int, **kwargs: Any) -> List[Any]:
        return list(population)[:k]

    def choice(self, seq: Sequence[Any]) -> Any:
        return seq[-1]

    def random(self) -> float:
        return 0.99


def icl_dataset(tokenizer, rows: List[Dict[str, Any]], folder: str, **overrides: Any):
    from FlagEmbedding.finetune.embedder.decoder_only.icl import (
        DecoderOnlyEmbedderICLDataArguments,
        DecoderOnlyEmbedderICLSameDatasetTrainDataset,
    )

    options = dict(train_data=[write_jsonl(os.path.join(folder, "data.jsonl"), rows)], same_dataset_within_batch=True,
                   query_max_len=128, passage_max_len=64, train_group_size=2, icl_suffix_str="\\n<response>",
                   query_instruction_for_retrieval="Find", query_instruction_format="<instruct>{}\\n<query>{}")
    options.update(overrides)
    args = DecoderOnlyEmbedderICLDataArguments(**options)
    return DecoderOnlyEmbedderICLSameDatasetTrainDataset(args, default_batch_size=len(rows), seed=0,
                                                         tokenizer=tokenizer)


def rows_of(kind: str = "normal", **extra: Any) -> List[Dict[str, Any]]:
    texts = ["giant panda bear", "capital of France", "quick brown fox"]
    answers = ["The giant panda is a bear.", "Paris is the capital of France.", "The quick brown fox jumps."]
    return [{"query": q, "pos": [a], "neg": ["Hi! Hello there."], "type": kind, **extra}
            for q, a in zip(texts, answers)]


@pytest.fixture(scope="module")
def tokenizer(tiny_decoder):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_decoder)


def build(dataset):
    return build_with(dataset, FirstChoices())


def build_with(dataset, rng: random.Random):
    """The batch of all rows of the first file, in file order, drawn with ``rng``."""
    part = dataset.parts[0]
    rows = [part.dataset[i] for i in range(len(part.dataset))]
    return dataset.build_batch(rows, part, rng)


# ---------------------------------------------------------------------------------------------------- dataset
def test_suffix_typed_on_the_command_line_is_unescaped(tokenizer, tmp_path):
    """Defect: ``--icl_suffix_str '\\n<response>'`` reached the queries with a literal backslash-n."""
    dataset = icl_dataset(tokenizer, rows_of(), str(tmp_path))
    assert dataset.args.icl_suffix_str == SUFFIX
    queries, _, _, _ = build(dataset)
    assert all(q.endswith(SUFFIX) and "\\n" not in q for q in queries)


def test_no_instruction_means_no_prefix(tokenizer, tmp_path):
    """Defect: same-dataset queries were always formatted, so a missing instruction became a literal "None"."""
    rows = rows_of()
    rows[1]["prompt"] = None
    rows[2]["prompt"] = "Own prompt"
    dataset = icl_dataset(tokenizer, rows, str(tmp_path), query_instruction_for_retrieval=None,
                          retrieval_use_examples=False)
    queries = build(dataset)[0]
    assert queries == ["giant panda bear" + SUFFIX, "capital of France" + SUFFIX,
                       "<instruct>Own prompt\n<query>quick brown fox" + SUFFIX]


def test_queries_carry_examples_from_the_other_rows(tokenizer, tmp_path):
    dataset = icl_dataset(tokenizer, rows_of(), str(tmp_path))
    queries, groups, teacher, flag = build(dataset)
    fmt = "<instruct>Find\n<query>{}".format
    ex = [fmt("giant panda bear") + SUFFIX + "The giant panda is a bear.\n\n",
          fmt("capital of France") + SUFFIX + "Paris is the capital of France.\n\n",
          fmt("quick brown fox") + SUFFIX + "The quick brown fox jumps.\n\n"]
    assert queries == [ex[1] + ex[2] + fmt("giant panda bear") + SUFFIX,
                       ex[0] + ex[2] + fmt("capital of France") + SUFFIX,
                       ex[0] + ex[1] + fmt("quick brown fox") + SUFFIX]
    assert groups[0] == ["The giant panda is a bear.", "Hi! Hello there."]  # passage rule: no instruction
    assert teacher is None and flag is False


def test_symmetric_types_format_passages_like_queries(tokenizer, tmp_path):
    rows = rows_of("symmetric_clustering", category="biology")
    dataset = icl_dataset(tokenizer, rows, str(tmp_path), retrieval_use_examples=False)
    queries, groups, _, _ = build(dataset)
    fmt = "<instruct>Find\n<query>{}".format
    assert groups[0] == [fmt("The giant panda is a bear.") + SUFFIX, fmt("Hi! Hello there.") + SUFFIX]
    assert queries[2] == (fmt("giant panda bear") + SUFFIX + "biology\n\n" + fmt("capital of France") + SUFFIX
                          + "biology\n\n" + fmt("quick brown fox") + SUFFIX)


def test_retrieval_without_examples_and_the_example_budget(tokenizer, tmp_path):
    """Examples are skipped when disabled for retrieval; the budget is ``query_max_len - 512`` only for long
    queries (FlagEmbedding 1.4.2's budget is negative below 513 tokens, so short-query runs never saw an example;
    the 128-token runs above do)."""
    from FlagEmbedding.finetune.embedder.decoder_only.icl.dataset import example_budget

    plain = "<instruct>Find\n<query>giant panda bear" + SUFFIX
    assert build(icl_dataset(tokenizer, rows_of(), str(tmp_path), retrieval_use_examples=False))[0][0] == plain
    assert example_budget(2048) == 1536 and example_budget(513) == 257 and example_budget(128) == 64
    assert build(icl_dataset(tokenizer, rows_of(), str(tmp_path / "tight"), query_max_len=24))[0][0] == plain


def test_icl_runner_requires_same_dataset_batches(tiny_decoder, tmp_path):
    from FlagEmbedding.finetune.common.cli import run_main
    from FlagEmbedding.finetune.embedder.decoder_only.icl import (
        DecoderOnlyEmbedderICLDataArguments,
        DecoderOnlyEmbedderICLModelArguments,
        DecoderOnlyEmbedderICLRunner,
        DecoderOnlyEmbedderICLTrainingArguments,
    )

    data = C.write_overfit_data(str(tmp_path))
    with pytest.raises(NotImplementedError, match="same_dataset_within_batch"):
        run_main(DecoderOnlyEmbedderICLRunner, DecoderOnlyEmbedderICLModelArguments,
                 DecoderOnlyEmbedderICLDataArguments, DecoderOnlyEmbedderICLTrainingArguments,
                 C.overfit_args(data, str(tmp_path / "out"), 1, 1e-3) + ["--model_name_or_path", tiny_decoder])


# ---------------------------------------------------------------------------------------------------- command 4
def icl_runner(args: List[str]):
    from FlagEmbedding.finetune.common.cli import run_main
    from FlagEmbedding.finetune.embedder.decoder_only.icl import (
        DecoderOnlyEmbedderICLDataArguments,
        DecoderOnlyEmbedderICLModelArguments,
        DecoderOnlyEmbedderICLRunner,
        DecoderOnlyEmbedderICLTrainingArguments,
    )

    return run_main(DecoderOnlyEmbedderICLRunner, DecoderOnlyEmbedderICLModelArguments,
                    DecoderOnlyEmbedderICLDataArguments, DecoderOnlyEmbedderICLTrainingArguments, args)


@pytest.fixture(scope="module")
def command_4_run(tiny_decoder, tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("icl_command"))
    with C.single_process_group(tmp):
        runner = icl_runner(C.local_args(C.COMMAND_4, tiny_decoder, C.EMBEDDER_DATA, tmp))
    return runner, os.path.join(tmp, "test_decoder_only_base_bge-en-icl_sd")


def test_command_4_writes_adapter_and_merged_model(command_4_run):
    runner, out = command_4_run
    assert runner.trainer.state.global_step == 2
    assert runner.data_args.icl_suffix_str == SUFFIX
    assert {"adapter_model.safetensors", "training_args.bin", "tokenizer.json"} <= set(os.listdir(out))
    assert {"config.json", "model.safetensors"} <= set(os.listdir(os.path.join(out, "merged_model")))


@pytest.mark.parametrize("through_auto", [False, True])
def test_icl_merged_round_trip(command_4_run, through_auto):
    from FlagEmbedding import FlagAutoModel, FlagICLModel

    runner, out = command_4_run
    merged = os.path.join(out, "merged_model")
    options = dict(use_fp16=False, devices="cpu", query_instruction_for_retrieval="Find the passage",
                   examples_for_task=[{"instruct": "Find the passage", "query": "giant panda", "response": "bear"}])
    if through_auto:
        embedder = FlagAutoModel.from_finetuned(merged, model_class="decoder-only-icl", pooling_method="last_token",
                                                query_instruction_format="<instruct>{}\n<query>{}", **options)
    else:
        embedder = FlagICLModel(merged, **options)
    assert isinstance(embedder, FlagICLModel)
    model, tokenizer = runner.model.eval(), runner.tokenizer
    passages = ["The giant panda is a bear species endemic to China.", "Paris is the capital of France."]
    queries = ["what is a panda?", "capital of France"]
    texts, limit = embedder.build_queries(queries, 64)
    with torch.no_grad():
        p = model.encode(dict(tokenizer(passages, padding=True, return_tensors="pt")))
        q = model.encode(dict(tokenizer(texts, padding=True, truncation=True, max_length=limit, return_tensors="pt")))
    assert embedder.encode_corpus(passages) == pytest.approx(p.numpy(), abs=1e-5)
    assert embedder.encode_queries(queries, max_length=64) == pytest.approx(q.numpy(), abs=1e-5)


def test_shipped_script_passes_the_documented_flags(tmp_path):
    from FlagEmbedding.finetune.embedder.decoder_only.icl import (
        DecoderOnlyEmbedderICLDataArguments,
        DecoderOnlyEmbedderICLModelArguments,
        DecoderOnlyEmbedderICLTrainingArguments,
    )

    C.check_shipped_script("decoder_only/icl.sh", C.COMMAND_4, (DecoderOnlyEmbedderICLModelArguments,
                           DecoderOnlyEmbedderICLDataArguments, DecoderOnlyEmbedderICLTrainingArguments), str(tmp_path))


# ---------------------------------------------------------------------------------------------------- overfit
class NoExamples(FirstChoices):
    """Like :class:`FirstChoices` but draws zero examples."""

    def choice(self, seq: Sequence[Any]) -> Any:
        return seq[0]


def test_icl_overfits_eight_queries(tiny_decoder, tmp_path):
    """Queries carry (4-token) in-context examples drawn as in training; the tiny model is trained in full."""
    from FlagEmbedding.finetune.common.cli import parse_args
    from FlagEmbedding.finetune.embedder.decoder_only.icl import (
        DecoderOnlyEmbedderICLDataArguments,
        DecoderOnlyEmbedderICLModelArguments,
        DecoderOnlyEmbedderICLRunner,
        DecoderOnlyEmbedderICLTrainingArguments,
    )

    data = C.write_overfit_data(str(tmp_path), num_neg=1)
    args = parse_args(DecoderOnlyEmbedderICLModelArguments, DecoderOnlyEmbedderICLDataArguments,
                      DecoderOnlyEmbedderICLTrainingArguments,
                      C.overfit_args(data, str(tmp_path / "out"), 40, 2e-3, group_size=2)
                      + ["--model_name_or_path", tiny_decoder, "--same_dataset_within_batch", "True",
                         "--use_lora", "False", "--query_max_len", "64", "--example_query_max_len", "4",
                         "--example_passage_max_len", "4", "--temperature", "0.05",
                         "--sentence_pooling_method", "last_token", "--icl_suffix_str", "\\n<response>"])
    runner = DecoderOnlyEmbedderICLRunner(model_args=args[0], data_args=args[1], training_args=args[2])
    dataset, model = runner.train_dataset, runner.model

    def accuracy(rng: random.Random) -> float:
        queries, groups, _, _ = build_with(dataset, rng)
        assert all(q.endswith(SUFFIX) for q in queries)
        batch = runner.data_collator.collate(queries, [[g[0]] for g in groups], None, False)
        model.eval()
        with torch.no_grad():
            scores = model.encode(batch["queries"]) @ model.encode(batch["passages"]).T
        return scores.argmax(dim=1).eq(torch.arange(8)).float().mean().item()

    before = [accuracy(random.Random(3)), accuracy(NoExamples())]
    runner.run()
    after = [accuracy(random.Random(3)), accuracy(NoExamples())]
    logging.getLogger(__name__).info("overfit accuracy before %s after %s", before, after)
    assert min(after) >= 7 / 8 and sum(after) > sum(before), (before, after)
