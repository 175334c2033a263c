"""Decoder-only embedder fine-tuning: LoRA / merged checkpoints, explicit EOS, grown vocabularies, the
documented command 3 (+ same-dataset variant), round trips into FlagLLMModel / FlagAutoModel, overfitting."""
from __future__ import annotations

import logging
import os
import re
from typing import List

import pytest
import torch
from torch import nn

from tests.finetune import m3_decoder_only_commands as C
from tests.finetune.m3_decoder_only_commands import one_torch_thread  # noqa: F401 - autouse fixture

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

TEXTS = ["The giant panda is a bear species endemic to China.", "Paris is the capital of France.", "quick fox"]


def runner_for(model_dir: str, args: List[str]):
    from FlagEmbedding.finetune.common.cli import run_main
    from FlagEmbedding.finetune.embedder.decoder_only.base import (
        DecoderOnlyEmbedderDataArguments,
        DecoderOnlyEmbedderModelArguments,
        DecoderOnlyEmbedderRunner,
        DecoderOnlyEmbedderTrainingArguments,
    )

    return run_main(DecoderOnlyEmbedderRunner, DecoderOnlyEmbedderModelArguments, DecoderOnlyEmbedderDataArguments,
                    DecoderOnlyEmbedderTrainingArguments, ["--model_name_or_path", model_dir] + args)


def training_embeddings(model, tokenizer, texts: List[str]) -> torch.Tensor:
    """The training wrapper's embeddings of exactly the token ids the inference classes use."""
    model.eval()
    with torch.no_grad():
        return model.encode(dict(tokenizer(texts, padding=True, return_tensors="pt")))


@pytest.fixture(scope="module")
def command_3_run(tiny_decoder, tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("decoder_command"))
    args = C.without(C.local_args(C.COMMAND_3, tiny_decoder, C.EMBEDDER_DATA, tmp), "--model_name_or_path", True)
    with C.single_process_group(tmp):
        runner = runner_for(tiny_decoder, args)
    return runner, os.path.join(tmp, "test_decoder_only_base_bge-multilingual-gemma2")


def test_command_3_writes_adapter_and_merged_model(command_3_run):
    runner, out = command_3_run
    assert runner.trainer.state.global_step == 2
    assert {"adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "training_args.bin"} <= set(
        os.listdir(out))
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(os.listdir(os.path.join(out, "merged_model")))
    assert not os.path.exists(os.path.join(out, "embedding"))  # '<instruct>' / '<query>' already existed
    lora = [name for name, p in runner.model.named_parameters() if p.requires_grad]
    assert lora and all("lora_" in name for name in lora)


@pytest.mark.parametrize("through_auto", [False, True])
def test_merged_model_round_trip(command_3_run, through_auto):
    from FlagEmbedding import FlagAutoModel, FlagLLMModel

    runner, out = command_3_run
    merged = os.path.join(out, "merged_model")
    if through_auto:
        embedder = FlagAutoModel.from_finetuned(merged, model_class="decoder-only-base", use_fp16=False,
                                                devices="cpu", pooling_method="last_token")
    else:
        embedder = FlagLLMModel(merged, use_fp16=False, devices="cpu")
    assert isinstance(embedder, FlagLLMModel)
    expected = training_embeddings(runner.model, runner.tokenizer, TEXTS)
    assert embedder.encode_corpus(TEXTS) == pytest.approx(expected.numpy(), abs=1e-5)


def test_adapter_folder_round_trip(command_3_run, tiny_decoder):
    """The adapter files alone (peft on the base model) reproduce the training model."""
    from peft import PeftModel
    from transformers import AutoModel

    from FlagEmbedding.utils.pooling import pool

    runner, out = command_3_run
    model = PeftModel.from_pretrained(AutoModel.from_pretrained(tiny_decoder), out).eval()
    features = dict(runner.tokenizer(TEXTS, padding=True, return_tensors="pt"))
    with torch.no_grad():
        reps = pool(model(**features).last_hidden_state, features["attention_mask"], "last_token")
    torch.testing.assert_close(torch.nn.functional.normalize(reps, dim=-1),
                               training_embeddings(runner.model, runner.tokenizer, TEXTS), atol=1e-5, rtol=0)


def test_command_3_same_dataset_variant_completes(tiny_decoder, tmp_path):
    args = C.local_args(C.COMMAND_3_SD, tiny_decoder, C.EMBEDDER_DATA, str(tmp_path))
    with C.single_process_group(str(tmp_path)):
        C.run_module(C.module_of(C.COMMAND_3_SD), args)
    out = tmp_path / "test_decoder_only_base_bge-multilingual-gemma2_sd"
    assert {"adapter_model.safetensors", "training_args.bin"} <= set(os.listdir(out))
    assert os.path.exists(out / "merged_model" / "model.safetensors")


@pytest.mark.parametrize("script,command", [("decoder_only/base.sh", C.COMMAND_3),
                                            ("decoder_only/base_same_dataset.sh", C.COMMAND_3_SD)])
def test_shipped_scripts_pass_the_documented_flags(script, command, tmp_path):
    from FlagEmbedding.finetune.embedder.decoder_only.base import (
        DecoderOnlyEmbedderDataArguments,
        DecoderOnlyEmbedderModelArguments,
        DecoderOnlyEmbedderTrainingArguments,
    )

    C.check_shipped_script(script, command, (DecoderOnlyEmbedderModelArguments, DecoderOnlyEmbedderDataArguments,
                                             DecoderOnlyEmbedderTrainingArguments), str(tmp_path))


# ---------------------------------------------------------------------------------------------------- EOS
def test_collator_appends_eos_once(tiny_decoder):
    from transformers import AutoTokenizer

    from FlagEmbedding.finetune.embedder.decoder_only.base import DecoderOnlyEmbedderCollator

    tokenizer = AutoTokenizer.from_pretrained(tiny_decoder)
    eos = tokenizer.eos_token_id
    collator = DecoderOnlyEmbedderCollator(tokenizer=tokenizer, query_max_len=6, passage_max_len=64,
                                           padding=True, return_tensors="pt")
    batch = collator.collate(["a", TEXTS[0]], [[TEXTS[1]], [TEXTS[2]]], None, False)
    queries = batch["queries"]
    assert queries["input_ids"][:, -1].tolist() == [eos, eos] and queries["input_ids"].shape[1] == 6
    plain = tokenizer(TEXTS[0], truncation=True, max_length=5)["input_ids"]
    assert queries["input_ids"][1].tolist() == plain + [eos]
    assert queries["attention_mask"][0].tolist() == [0, 0, 0, 0, 1, 1]
    tokenizer.add_eos_token = True  # the tokenizer now appends EOS itself: no second one
    assert tokenizer("a")["input_ids"][-1] == eos
    again = collator.collate(["a"], [[TEXTS[1]]], None, False)["queries"]["input_ids"][0].tolist()
    assert again == tokenizer("a")["input_ids"]
    collator.append_eos = False
    tokenizer.add_eos_token = False
    assert collator.collate(["a"], [["b"]], None, False)["queries"]["input_ids"][0].tolist() == tokenizer("a")["input_ids"]


# ---------------------------------------------------------------------------------------------------- vocabulary
def test_new_special_token_grows_embeddings_and_merges(tiny_decoder, tmp_path):
    from FlagEmbedding import FlagLLMModel

    data = C.write_overfit_data(str(tmp_path))
    out = tmp_path / "out"
    runner = runner_for(tiny_decoder, C.overfit_args(data, str(out), 1, 1e-3)
                        + ["--additional_special_tokens", "<new_tok>", "--save_merged_lora_model", "True",
                           "--sentence_pooling_method", "last_token",
                           "--lora_rank", "4", "--modules_to_save", "embed_tokens"])
    vocab = len(runner.tokenizer)
    saved = torch.load(out / "embedding" / "emb.pth", weights_only=True)
    assert set(saved) == {"weight"} and saved["weight"].shape[0] == vocab
    merged = out / "merged_model"
    merged_embedder = FlagLLMModel(str(merged), use_fp16=False, devices="cpu")
    assert merged_embedder.model.config.vocab_size == vocab
    texts = ["<new_tok> giant panda", TEXTS[1]]
    assert merged_embedder.encode_corpus(texts) == pytest.approx(
        training_embeddings(runner.model, runner.tokenizer, texts).numpy(), abs=1e-5)


def test_embedding_file_formats(tmp_path, tiny_decoder):
    """emb.pth is written as a state dict; FlagEmbedding 1.4.2's pickled module is still read."""
    from transformers import AutoModel

    from FlagEmbedding.finetune.common.lora import load_embedding_state, restore_embedding, save_embedding

    model = AutoModel.from_pretrained(tiny_decoder)
    path = save_embedding(model, str(tmp_path))
    assert path == str(tmp_path / "embedding" / "emb.pth")
    legacy = tmp_path / "legacy.pth"
    module = nn.Embedding(model.get_input_embeddings().weight.shape[0] + 3, model.config.hidden_size)
    torch.save(module, legacy)
    torch.testing.assert_close(load_embedding_state(str(legacy))["weight"], module.weight.detach())
    restore_embedding(model, str(legacy))
    torch.testing.assert_close(model.get_input_embeddings().weight, module.weight)
    torch.testing.assert_close(load_embedding_state(path)["weight"].shape, torch.Size([len(module.weight) - 3,
                                                                                         model.config.hidden_size]))


class _RunsCode:
    """Pickles to a call of ``open(<marker>, "w")``: unpickling it would create the marker file."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return open, (self.marker, "w")


def test_embedding_file_that_would_run_code_is_refused_not_unpickled(tmp_path):
    from FlagEmbedding.finetune.common.lora import load_embedding_state
    from FlagEmbedding.utils.errors import InputError

    marker = tmp_path / "pwned"
    crafted = tmp_path / "emb.pth"
    torch.save({"weight": _RunsCode(str(marker))}, crafted)
    with pytest.raises(InputError, match=rf"^{re.escape(str(crafted))}: not a saved state dict or nn.Embedding; "
                                         r"refusing to unpickle it \(it could run code\)\."):
        load_embedding_state(str(crafted))
    assert not marker.exists()
    torch.save([torch.zeros(2)], tmp_path / "list.pth")
    with pytest.raises(InputError, match=r"expected a state dict with a 'weight' tensor, got list\.$"):
        load_embedding_state(str(tmp_path / "list.pth"))


# ---------------------------------------------------------------------------------------------------- peft options
def test_from_peft_raw_peft_and_only_merge(command_3_run, tiny_decoder, tmp_path):
    """``from_peft`` continues the adapter; ``raw_peft`` merges it into the base first; ``only_merge_lora_model``
    merges without training; a missing final adapter falls back to the latest checkpoint."""
    from peft import PeftModel
    from transformers import AutoModel

    from FlagEmbedding.finetune.common.lora import latest_adapter_dir, merge_adapters

    runner, adapter = command_3_run
    data = C.write_overfit_data(str(tmp_path))
    continued = runner_for(tiny_decoder, C.overfit_args(data, str(tmp_path / "continued"), 1, 1e-3)
                           + ["--from_peft", adapter])
    state = {k: v for k, v in continued.model.model.state_dict().items() if "lora_A" in k}
    trained = {k: v for k, v in runner.model.model.state_dict().items() if "lora_A" in k}
    assert state.keys() == trained.keys() and any(not torch.equal(state[k], trained[k]) for k in state)
    assert all(p.requires_grad for n, p in continued.model.named_parameters() if "lora_" in n)

    merged = merge_adapters(AutoModel.from_pretrained(tiny_decoder), [adapter])
    reference = PeftModel.from_pretrained(AutoModel.from_pretrained(tiny_decoder), adapter).merge_and_unload()
    torch.testing.assert_close(merged.state_dict(), reference.state_dict())

    only = tmp_path / "only"
    os.makedirs(only / "checkpoint-3")
    for name in os.listdir(adapter):
        if os.path.isfile(os.path.join(adapter, name)):
            os.link(os.path.join(adapter, name), only / "checkpoint-3" / name)
    assert latest_adapter_dir(str(only)) == str(only / "checkpoint-3")
    merger = runner_for(tiny_decoder, C.overfit_args(data, str(only), 1, 1e-3)
                        + ["--only_merge_lora_model", "True", "--overwrite_output_dir"])
    assert merger.model is None and merger.trainer is None
    merger.run()
    torch.testing.assert_close(AutoModel.from_pretrained(str(only / "merged_model")).state_dict(),
                               reference.state_dict())
    with pytest.raises(FileNotFoundError, match="No LoRA adapter"):
        latest_adapter_dir(str(tmp_path / "continued" / "missing"))


# ---------------------------------------------------------------------------------------------------- overfit
def test_decoder_embedder_overfits_eight_queries(tiny_decoder, tmp_path):
    def accuracy(model, tokenizer) -> float:
        q = training_embeddings(model, tokenizer, [t + tokenizer.eos_token for t in C.OVERFIT_QUERIES])
        p = training_embeddings(model, tokenizer, [t + tokenizer.eos_token for t in C.OVERFIT_PASSAGES])
        return (q @ p.T).argmax(dim=1).eq(torch.arange(8)).float().mean().item()

    data = C.write_overfit_data(str(tmp_path))
    runner = runner_for(tiny_decoder, C.overfit_args(data, str(tmp_path / "out"), 30, 1e-3)
                        + ["--lora_rank", "8", "--lora_alpha", "16", "--sentence_pooling_method", "last_token",
                           "--temperature", "0.05"])
    after = accuracy(runner.model, runner.tokenizer)
    with runner.model.model.disable_adapter():
        before = accuracy(runner.model, runner.tokenizer)
    logging.getLogger(__name__).info("overfit accuracy before %s after %s", before, after)
    assert after >= 7 / 8 and after > before, (before, after)


def test_decoder_and_encoder_models_share_a_base_not_each_other():
    """Both dense kinds derive from the pooled base; the decoder-only one only changes the pooling default."""
    import inspect

    from FlagEmbedding.abc.finetune.embedder import PooledEmbedderModel
    from FlagEmbedding.finetune.embedder.decoder_only.base import BiDecoderOnlyEmbedderModel
    from FlagEmbedding.finetune.embedder.encoder_only.base import BiEncoderOnlyEmbedderModel

    assert not issubclass(BiDecoderOnlyEmbedderModel, BiEncoderOnlyEmbedderModel)
    assert issubclass(BiDecoderOnlyEmbedderModel, PooledEmbedderModel)
    assert issubclass(BiEncoderOnlyEmbedderModel, PooledEmbedderModel)
    defaults = [inspect.signature(cls).parameters["sentence_pooling_method"].default
                for cls in (BiEncoderOnlyEmbedderModel, BiDecoderOnlyEmbedderModel)]
    assert defaults == ["cls", "last_token"]
