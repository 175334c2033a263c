"""Layer-wise reranker fine-tuning: every selected layer is scored and trained (loss summed over layers, each
head gets gradients), heads of a raw model start from the 'Yes' row, the documented command 7, round trips into
LayerWiseFlagLLMReranker / FlagAutoReranker, overfitting."""
from __future__ import annotations

import logging
import os
from typing import Any, Dict, List

import pytest
import torch

from tests import tiny_models
from tests.finetune import m3_decoder_only_commands as C
from tests.finetune.m3_decoder_only_commands import one_torch_thread  # noqa: F401 - autouse fixture

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")

PAIRS = [["what is a panda?", "The giant panda is a bear."], ["what is a panda?", "Hi! Hello there."],
         ["capital of France", "Paris is the capital of France."], ["capital of France", "The quick brown fox."]]
LAYERS = [2, 3, 4]  # the tiny model: 4 layers, heads from start_layer 2


def layerwise_runner(args: List[str], run: bool = True):
    from FlagEmbedding.finetune.common.cli import parse_args
    from FlagEmbedding.abc.finetune.reranker import AbsRerankerDataArguments, AbsRerankerTrainingArguments
    from FlagEmbedding.finetune.reranker.decoder_only.layerwise import DecoderOnlyRerankerRunner, RerankerModelArguments

    model_args, data_args, training_args = parse_args(RerankerModelArguments, AbsRerankerDataArguments,
                                                      AbsRerankerTrainingArguments, args)
    runner = DecoderOnlyRerankerRunner(model_args=model_args, data_args=data_args, training_args=training_args)
    if run:
        runner.run()
    return runner


def pair_batch(runner, pairs: List[List[str]], row: Dict[str, Any]) -> Dict[str, torch.Tensor]:
    dataset = runner.train_dataset
    items = [dataset.create_one_example(dataset.format_query({"query": q, **row}), dataset.format_passage(row, p),
                                       **dataset.example_options(row))
             for q, p in pairs]
    return runner.data_collator([(items, None)])["pair"]


@pytest.fixture(scope="module")
def layerwise_model(tmp_path_factory) -> str:
    return tiny_models.save_tiny_minicpm_layerwise(
        str(tmp_path_factory.mktemp("models") / "bge-reranker-v2-minicpm-layerwise"))


# ---------------------------------------------------------------------------------------------------- loss
@pytest.mark.parametrize("with_teacher", [False, True])
def test_loss_is_summed_over_every_selected_layer(layerwise_model, with_teacher):
    """Defect: FlagEmbedding 1.4.2 scored only the last layer; now layers start_layer..num_hidden_layers are
    all scored, the loss is summed over them and every layer's head receives gradients."""
    from transformers import AutoTokenizer

    from FlagEmbedding.finetune.reranker.decoder_only.base.runner import configure_reranker_tokenizer
    from FlagEmbedding.finetune.reranker.decoder_only.layerwise import CrossDecoderModel
    from FlagEmbedding.inference.reranker.decoder_only.models import LayerWiseMiniCPMForCausalLM

    tokenizer = configure_reranker_tokenizer(AutoTokenizer.from_pretrained(layerwise_model))
    model = CrossDecoderModel(LayerWiseMiniCPMForCausalLM.from_pretrained(layerwise_model), tokenizer,
                              train_batch_size=8, start_layer=2, train_group_size=2).train()
    assert model.cutoff_layers == LAYERS
    batch = dict(tokenizer([f"A: {q}\nB: {p}\nYes?" for q, p in PAIRS], padding=True, return_tensors="pt"))
    teacher = [1.0, -1.0, 0.5, 2.0] if with_teacher else None
    output = model(batch, teacher)
    output.loss.backward()
    with torch.no_grad():
        per_layer = [logits[:, -1].view(2, 2) for logits in model.model(**batch, cutoff_layers=LAYERS).logits]
    expected = sum(-torch.log_softmax(s, dim=-1)[:, 0].mean() for s in per_layer)
    if with_teacher:
        target = torch.softmax(torch.tensor(teacher).view(2, 2), dim=-1)
        expected = expected + sum(-(target * torch.log_softmax(s, -1)).sum(-1).mean() for s in per_layer)
    else:
        target = torch.softmax(per_layer[-1], dim=-1)
        expected = expected + sum(-(target * torch.log_softmax(s, -1)).sum(-1).mean() for s in per_layer[:-1])
    assert output.loss.item() == pytest.approx(expected.item(), rel=1e-5)
    torch.testing.assert_close(output.scores.detach(), per_layer[-1].flatten())
    grads = [head.linear_head.weight.grad for head in model.model.lm_head]
    assert len(grads) == 3 and all(g is not None and g.abs().sum() > 0 for g in grads)


# ---------------------------------------------------------------------------------------------------- from_raw_model
def test_from_raw_model_builds_heads_from_the_yes_row(tmp_path):
    from safetensors.torch import load_file

    from FlagEmbedding import LayerWiseFlagLLMReranker

    raw = tiny_models.save_tiny_minicpm_raw(str(tmp_path / "raw"))
    data = C.write_overfit_data(str(tmp_path), prompt="Relevant?")
    base = ["--model_name_or_path", raw, "--model_type", "from_raw_model", "--start_layer", "1",
            "--query_instruction_for_rerank", "A: ", "--passage_instruction_for_rerank", "B: "]
    with pytest.raises(NotImplementedError, match="--head_multi True --head_type simple"):
        layerwise_runner(C.overfit_args(data, str(tmp_path / "bad"), 1, 1e-3) + base, run=False)
    runner = layerwise_runner(C.overfit_args(data, str(tmp_path / "out"), 1, 1e-3)
                              + base + ["--head_multi", "True", "--use_lora", "False"], run=False)
    inner = runner.model.model
    yes = runner.tokenizer("Yes", add_special_tokens=False)["input_ids"][-1]
    row = load_file(os.path.join(raw, "model.safetensors"))["lm_head.weight"][yes]
    assert (inner.config.start_layer, inner.config.head_multi, len(inner.lm_head)) == (1, True, 4)
    for head in inner.lm_head:
        torch.testing.assert_close(head.linear_head.weight[0], row)
    assert runner.model.cutoff_layers == [1, 2, 3, 4]
    runner.run()
    out = str(tmp_path / "out")  # full fine-tuning: the output folder is a layer-wise checkpoint
    reranker = LayerWiseFlagLLMReranker(out, devices="cpu", cutoff_layers=[1, 2, 3, 4])
    runner.model.eval()
    with torch.no_grad():
        expected = [s.tolist() for s in runner.model.layer_scores(pair_batch(runner, PAIRS, {}))]
    for got, want in zip(reranker.compute_score(PAIRS), expected):
        assert got == pytest.approx(want, abs=1e-5)


def test_from_raw_model_lora_trains_heads_and_merges(tmp_path):
    """With LoRA, ``--modules_to_save linear_head`` trains the per-layer heads; merging rebuilds the raw model's
    heads locally and applies the trained copies."""
    from FlagEmbedding import LayerWiseFlagLLMReranker

    raw = tiny_models.save_tiny_minicpm_raw(str(tmp_path / "raw"))
    data = C.write_overfit_data(str(tmp_path), prompt="Relevant?")
    runner = layerwise_runner(C.overfit_args(data, str(tmp_path / "out"), 2, 1e-2)
                              + ["--model_name_or_path", raw, "--model_type", "from_raw_model", "--start_layer", "3",
                                 "--head_multi", "True", "--lora_rank", "4", "--modules_to_save", "linear_head",
                                 "--save_merged_lora_model", "True", "--query_instruction_for_rerank", "A: ",
                                 "--passage_instruction_for_rerank", "B: "])
    heads = [name for name, p in runner.model.named_parameters() if p.requires_grad and "linear_head" in name]
    assert len(heads) == 2  # layers 3 and 4
    reranker = LayerWiseFlagLLMReranker(str(tmp_path / "out" / "merged_model"), devices="cpu", cutoff_layers=[3, 4])
    runner.model.eval()
    with torch.no_grad():
        expected = [s.tolist() for s in runner.model.layer_scores(pair_batch(runner, PAIRS, {}))]
    for got, want in zip(reranker.compute_score(PAIRS), expected):
        assert got == pytest.approx(want, abs=1e-5)


# ---------------------------------------------------------------------------------------------------- command 7
@pytest.fixture(scope="module")
def command_7_run(layerwise_model, tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("layerwise_command"))
    args = C.local_args(C.COMMAND_7, layerwise_model, C.RERANKER_DATA, tmp)
    assert args.count("--model_type") == 2  # '--model_type decoder' then '--model_type from_finetuned_model'
    runner = layerwise_runner(args)
    return runner, os.path.join(tmp, "test_decoder_only_base_bge-reranker-v2-minicpm-layerwise")


def test_command_7_writes_adapter_and_merged_model(command_7_run):
    runner, out = command_7_run
    assert runner.model_args.model_type == "from_finetuned_model" and runner.model.cutoff_layers == LAYERS
    assert runner.trainer.state.global_step == 2
    assert {"adapter_config.json", "adapter_model.safetensors", "training_args.bin"} <= set(os.listdir(out))
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(os.listdir(os.path.join(out, "merged_model")))


@pytest.mark.parametrize("checkpoint", ["adapter", "merged", "auto"])
def test_layerwise_round_trip_every_layer(command_7_run, layerwise_model, checkpoint):
    from FlagEmbedding import FlagAutoReranker, LayerWiseFlagLLMReranker

    runner, out = command_7_run
    options = dict(devices="cpu", cutoff_layers=LAYERS)
    if checkpoint == "adapter":
        reranker = LayerWiseFlagLLMReranker(layerwise_model, peft_path=out, **options)
    elif checkpoint == "merged":
        reranker = LayerWiseFlagLLMReranker(os.path.join(out, "merged_model"), **options)
    else:
        reranker = FlagAutoReranker.from_finetuned(os.path.join(out, "merged_model"),
                                                   model_class="decoder-only-layerwise", **options)
    assert isinstance(reranker, LayerWiseFlagLLMReranker)
    runner.model.eval()
    with torch.no_grad():
        expected = [s.tolist() for s in runner.model.layer_scores(pair_batch(runner, PAIRS, {}))]
    scores = reranker.compute_score(PAIRS)
    assert len(scores) == len(LAYERS)
    for got, want in zip(scores, expected):
        assert got == pytest.approx(want, abs=1e-5)


def test_unknown_model_type_is_refused(layerwise_model, tmp_path):
    data = C.write_overfit_data(str(tmp_path))
    with pytest.raises(ValueError, match="model_type must be one of"):
        layerwise_runner(C.overfit_args(data, str(tmp_path / "out"), 1, 1e-3)
                         + ["--model_name_or_path", layerwise_model, "--model_type", "decoder"], run=False)


def test_shipped_script_passes_the_documented_flags(tmp_path):
    from FlagEmbedding.abc.finetune.reranker import AbsRerankerDataArguments, AbsRerankerTrainingArguments
    from FlagEmbedding.finetune.reranker.decoder_only.layerwise import RerankerModelArguments

    C.check_shipped_script("decoder_only/layerwise.sh", C.COMMAND_7,
                           (RerankerModelArguments, AbsRerankerDataArguments, AbsRerankerTrainingArguments),
                           str(tmp_path))


# ---------------------------------------------------------------------------------------------------- overfit
def test_layerwise_overfits_eight_queries(layerwise_model, tmp_path):
    """Training accuracy of every layer: each query's positive outscores its three training negatives."""
    data = C.write_overfit_data(str(tmp_path), prompt="Relevant?")
    runner = layerwise_runner(C.overfit_args(data, str(tmp_path / "out"), 60, 1e-2)
                              + ["--model_name_or_path", layerwise_model, "--model_type", "from_finetuned_model",
                                 "--use_lora", "False"], run=False)

    def accuracy() -> List[float]:
        correct = torch.zeros(len(LAYERS))
        runner.model.eval()
        for i, query in enumerate(C.OVERFIT_QUERIES):
            pairs = [[query, C.OVERFIT_PASSAGES[(i + k) % 8]] for k in range(4)]
            with torch.no_grad():
                per_layer = runner.model.layer_scores(pair_batch(runner, pairs, {"prompt": "Relevant?"}))
            correct += torch.tensor([float(s.argmax().item() == 0) for s in per_layer])
        return (correct / 8).tolist()

    before = accuracy()
    runner.run()
    after = accuracy()
    logging.getLogger(__name__).info("overfit accuracy before %s after %s", before, after)
    assert min(after) >= 7 / 8 and sum(after) > sum(before), (before, after)
