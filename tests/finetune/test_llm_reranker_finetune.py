"""Decoder-only (LLM) reranker fine-tuning: the group loss against a hand-computed reference, the documented
command 6, round trips of adapter and merged model into FlagLLMReranker / FlagAutoReranker, overfitting."""
from __future__ import annotations

import logging
import os
from typing import Any, Dict, List

import pytest
import torch

from tests import tiny_models
from tests.finetune import m3_decoder_only_commands as C
from tests.finetune.m3_decoder_only_commands import one_torch_thread  # noqa: F401 - autouse fixture

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

QUERIES = ["what is a panda?", "capital of France"]
GROUPS = [["The giant panda is a bear.", "Hi! Hello there.", "numbers 0 1 2"],
          ["Paris is the capital of France.", "The quick brown fox.", "Yes or No?"]]
PAIRS = [[q, p] for q, group in zip(QUERIES, GROUPS) for p in group]


def reranker_runner(args: List[str]):
    from FlagEmbedding.finetune.common.cli import run_main
    from FlagEmbedding.abc.finetune.reranker import AbsRerankerDataArguments, AbsRerankerTrainingArguments
    from FlagEmbedding.finetune.reranker.decoder_only.base import DecoderOnlyRerankerRunner, RerankerModelArguments

    return run_main(DecoderOnlyRerankerRunner, RerankerModelArguments, AbsRerankerDataArguments,
                    AbsRerankerTrainingArguments, args)


def pair_batch(runner, pairs: List[List[str]], row: Dict[str, Any]) -> Dict[str, torch.Tensor]:
    """The training inputs of ``pairs``, built by the run's own dataset and collator."""
    dataset = runner.train_dataset
    items = [dataset.create_one_example(dataset.format_query({"query": q, **row}), dataset.format_passage(row, p),
                                       **dataset.example_options(row))
             for q, p in pairs]
    return runner.data_collator([(items, None)])["pair"]


@pytest.fixture(scope="module")
def causal_lm(tmp_path_factory) -> str:
    return tiny_models.save_tiny_decoder(str(tmp_path_factory.mktemp("models") / "bge-reranker-v2-gemma"),
                                         causal_lm=True)


# ---------------------------------------------------------------------------------------------------- loss
@pytest.mark.parametrize("with_teacher", [False, True])
def test_group_loss_matches_reference(causal_lm, with_teacher):
    """CE towards the first pair of each group (+ soft-CE to the teacher's softmax); B is read from the input,
    not from ``train_batch_size`` (FlagEmbedding 1.4.2 reshaped with the configured batch size)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from FlagEmbedding.finetune.reranker.decoder_only.base import CrossDecoderModel
    from FlagEmbedding.finetune.reranker.decoder_only.base.runner import configure_reranker_tokenizer

    tokenizer = configure_reranker_tokenizer(AutoTokenizer.from_pretrained(causal_lm))
    model = CrossDecoderModel(AutoModelForCausalLM.from_pretrained(causal_lm), tokenizer, train_batch_size=4,
                              train_group_size=3).train()
    texts = [f"A: {q}\nB: {p}\nYes?" for q, p in PAIRS]
    batch = dict(tokenizer(texts, padding=True, return_tensors="pt"))
    teacher = [2.0, 0.0, -1.0, 0.5, 1.5, 0.0] if with_teacher else None
    output = model(batch, teacher)
    with torch.no_grad():
        logits = model.model(**batch).logits[:, -1, tokenizer.convert_tokens_to_ids("Yes")].view(2, 3)
    expected = -torch.log_softmax(logits, dim=-1)[:, 0].mean()
    if with_teacher:
        target = torch.softmax(torch.tensor(teacher).view(2, 3), dim=-1)
        expected = expected - (target * torch.log_softmax(logits, dim=-1)).sum(-1).mean()
    assert output.loss.item() == pytest.approx(expected.item(), rel=1e-5)
    torch.testing.assert_close(output.scores.detach(), logits.flatten())


def test_tokenizer_setup_guards_the_eod_probe(causal_lm):
    from transformers import AutoTokenizer

    from FlagEmbedding.finetune.reranker.decoder_only.base.runner import configure_reranker_tokenizer

    tokenizer = AutoTokenizer.from_pretrained(causal_lm)
    tokenizer.pad_token = None
    assert configure_reranker_tokenizer(tokenizer).pad_token == tokenizer.eos_token  # no eod_id attribute: eos
    assert tokenizer.padding_side == "left"

    class QwenStyle:  # Qwen-1's remote-code tokenizer: no pad / unk token, but eod / im_start / im_end ids
        pad_token = unk_token = pad_token_id = bos_token_id = None
        eos_token, eos_token_id, padding_side = "<|endoftext|>", 0, "right"
        eod_id, im_start_id, im_end_id = 5, 6, 7

    qwen_style = configure_reranker_tokenizer(QwenStyle())
    assert (qwen_style.pad_token_id, qwen_style.bos_token_id, qwen_style.eos_token_id) == (5, 6, 7)


def test_embedder_tokenizer_setup_skips_the_eod_id():
    """The decoder embedder shares the setup but pads with eos where the reranker takes Qwen-1's eod_id."""
    from FlagEmbedding.finetune.common.tokenizer import configure_decoder_tokenizer

    class QwenStyle:
        pad_token = unk_token = pad_token_id = bos_token_id = None
        eos_token, eos_token_id, padding_side = "<|endoftext|>", 0, "right"
        eod_id, im_start_id, im_end_id = 5, 6, 7

    tokenizer = configure_decoder_tokenizer(QwenStyle(), use_eod_id=False)
    assert (tokenizer.pad_token, tokenizer.bos_token_id, tokenizer.padding_side) == ("<|endoftext|>", None, "left")


def test_decoder_reranker_classes_have_unique_names():
    """Base and layer-wise classes have their own names; the 1.4.2 names stay at their 1.4.2 paths."""
    from FlagEmbedding.finetune.reranker.decoder_only import base, layerwise

    pairs = {"CrossDecoderModel": "Model", "DecoderOnlyRerankerRunner": "Runner",
             "DecoderOnlyRerankerTrainer": "Trainer", "RerankerModelArguments": "ModelArguments"}
    for old, part in pairs.items():
        assert getattr(layerwise, old).__name__ == f"DecoderOnlyRerankerLayerWise{part}"
        assert getattr(base, old).__name__ == f"DecoderOnlyReranker{part}"
        assert getattr(layerwise, old) is not getattr(base, old)


def test_encoder_model_type_is_refused(causal_lm, tmp_path):
    data = C.write_overfit_data(str(tmp_path))
    with pytest.raises(ValueError, match="pass --model_type decoder"):
        reranker_runner(C.overfit_args(data, str(tmp_path / "out"), 1, 1e-3) + ["--model_name_or_path", causal_lm])


# ---------------------------------------------------------------------------------------------------- command 6
@pytest.fixture(scope="module")
def command_6_run(causal_lm, tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("llm_reranker_command"))
    runner = reranker_runner(C.local_args(C.COMMAND_6, causal_lm, C.RERANKER_DATA, tmp))
    return runner, os.path.join(tmp, "test_decoder_only_base_bge-reranker-v2-gemma")


def test_command_6_writes_adapter_and_merged_model(command_6_run):
    runner, out = command_6_run
    assert runner.trainer.state.global_step == 2
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "training_args.bin"} <= set(
        os.listdir(out))
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(os.listdir(os.path.join(out, "merged_model")))


@pytest.mark.parametrize("checkpoint", ["adapter", "merged", "auto"])
def test_reranker_round_trip(command_6_run, causal_lm, checkpoint):
    from FlagEmbedding import FlagAutoReranker, FlagLLMReranker

    runner, out = command_6_run
    options = dict(use_fp16=False, devices="cpu")
    if checkpoint == "adapter":
        reranker = FlagLLMReranker(causal_lm, peft_path=out, **options)
    elif checkpoint == "merged":
        reranker = FlagLLMReranker(os.path.join(out, "merged_model"), **options)
    else:
        reranker = FlagAutoReranker.from_finetuned(os.path.join(out, "merged_model"),
                                                   model_class="decoder-only-base", **options)
    assert isinstance(reranker, FlagLLMReranker)
    model = runner.model.eval()
    with torch.no_grad():
        expected = model.encode(pair_batch(runner, PAIRS, {}))
    assert reranker.compute_score(PAIRS) == pytest.approx(expected.tolist(), abs=1e-5)


def test_shipped_script_passes_the_documented_flags(tmp_path):
    from FlagEmbedding.abc.finetune.reranker import AbsRerankerDataArguments, AbsRerankerTrainingArguments
    from FlagEmbedding.finetune.reranker.decoder_only.base import RerankerModelArguments

    C.check_shipped_script("decoder_only/base.sh", C.COMMAND_6,
                           (RerankerModelArguments, AbsRerankerDataArguments, AbsRerankerTrainingArguments),
                           str(tmp_path))


# ---------------------------------------------------------------------------------------------------- overfit
def test_llm_reranker_overfits_eight_queries(causal_lm, tmp_path):
    """Training accuracy: each query's positive outscores its three training negatives."""
    from FlagEmbedding.finetune.common.cli import parse_args
    from FlagEmbedding.abc.finetune.reranker import AbsRerankerDataArguments, AbsRerankerTrainingArguments
    from FlagEmbedding.finetune.reranker.decoder_only.base import DecoderOnlyRerankerRunner, RerankerModelArguments

    data = C.write_overfit_data(str(tmp_path), prompt="Relevant?")
    args = parse_args(RerankerModelArguments, AbsRerankerDataArguments, AbsRerankerTrainingArguments,
                      C.overfit_args(data, str(tmp_path / "out"), 40, 1e-2)
                      + ["--model_name_or_path", causal_lm, "--model_type", "decoder", "--use_lora", "False"])
    runner = DecoderOnlyRerankerRunner(model_args=args[0], data_args=args[1], training_args=args[2])

    def accuracy() -> float:
        correct = 0
        runner.model.eval()
        for i, query in enumerate(C.OVERFIT_QUERIES):
            pairs = [[query, C.OVERFIT_PASSAGES[(i + k) % 8]] for k in range(4)]
            with torch.no_grad():
                scores = runner.model.encode(pair_batch(runner, pairs, {"prompt": "Relevant?"}))
            correct += int(scores.argmax().item() == 0)
        return correct / 8

    before = accuracy()
    runner.run()
    after = accuracy()
    logging.getLogger(__name__).info("overfit accuracy before %s after %s", before, after)
    assert after >= 7 / 8 and after > before, (before, after)
