"""oneDNN linears for fp32 CPU inference: same outputs as the stock modules, the fused kernel actually runs, and
nothing is left on the model afterwards (against the unpatched model as the reference)."""
from __future__ import annotations

import contextlib
import pickle
import threading

import pytest
import torch
from torch.profiler import profile
from transformers import BertConfig, BertModel, XLMRobertaConfig, XLMRobertaModel
from transformers.models.bert.modeling_bert import BertIntermediate

from FlagEmbedding import FlagModel
from FlagEmbedding.abc.inference import base
from FlagEmbedding.backends.cpu_info import last_level_cache_bytes
from FlagEmbedding.backends.onednn import onednn_available, onednn_linears

pytestmark = pytest.mark.skipif(not onednn_available(), reason="this PyTorch build has no oneDNN linear kernel")

SMALL = dict(hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4, vocab_size=100)


def small_model(arch: str, hidden_act: str = "gelu") -> torch.nn.Module:
    torch.manual_seed(0)
    if arch == "bert":
        return BertModel(BertConfig(**SMALL, hidden_act=hidden_act)).eval()
    return XLMRobertaModel(XLMRobertaConfig(**SMALL, hidden_act=hidden_act, max_position_embeddings=80)).eval()


def inputs() -> dict:
    ids = torch.randint(5, 100, (3, 17))
    mask = torch.ones_like(ids)
    mask[1, 9:] = 0
    mask[2, 4:] = 0
    return {"input_ids": ids, "attention_mask": mask}


def run_profiled(model: torch.nn.Module, batch: dict):
    with torch.inference_mode(), profile() as prof:
        output = model(**batch).last_hidden_state
    names = [event.name for event in prof.events()]
    return output, names


def linear_count(model: torch.nn.Module) -> int:
    return sum(type(module) is torch.nn.Linear for module in model.modules())


def patched_modules(model: torch.nn.Module) -> list:
    return [name for name, module in model.named_modules() if "forward" in vars(module)]


@pytest.mark.parametrize("prepack", [False, True])
@pytest.mark.parametrize("arch", ["bert", "xlm-roberta"])
def test_outputs_equal_stock_and_every_linear_runs_on_onednn_with_gelu_fused(arch, prepack):
    model, batch = small_model(arch), inputs()
    reference, stock_names = run_profiled(model, batch)
    assert "mkldnn::_linear_pointwise" not in stock_names
    with contextlib.ExitStack() as block:
        with profile() as packing:
            block.enter_context(onednn_linears(model, "cpu", prepack=prepack))
        output, names = run_profiled(model, batch)
    reorders = [event.name for event in packing.events()].count("mkldnn::_reorder_linear_weight")
    assert reorders == (linear_count(model) if prepack else 0)  # each weight once, fused or not
    torch.testing.assert_close(output, reference, atol=1e-5, rtol=1e-5)
    # each intermediate block is one fused call in place of its dense + GELU; every other linear one call
    assert names.count("mkldnn::_linear_pointwise") == linear_count(model)
    assert "aten::gelu" in stock_names and "aten::gelu" not in names
    assert "aten::addmm" not in names
    assert patched_modules(model) == []


def test_tanh_gelu_is_not_fused_and_still_matches():
    model, batch = small_model("bert", hidden_act="gelu_new"), inputs()
    reference, _ = run_profiled(model, batch)
    with onednn_linears(model, "cpu"):
        output, names = run_profiled(model, batch)
    torch.testing.assert_close(output, reference, atol=1e-5, rtol=1e-5)
    assert names.count("mkldnn::_linear_pointwise") == linear_count(model)  # the linears only


class DoubledIntermediate(BertIntermediate):
    """Same attributes as BERT's block, another forward: must not be replaced by the fused call."""

    def forward(self, hidden_states):
        return 2 * self.intermediate_act_fn(self.dense(hidden_states))


def test_intermediate_with_another_forward_keeps_it():
    model, batch = small_model("bert"), inputs()
    for layer in model.encoder.layer:
        doubled = DoubledIntermediate(model.config)
        doubled.load_state_dict(layer.intermediate.state_dict())
        layer.intermediate = doubled
    model.eval()
    reference, _ = run_profiled(model, batch)
    with onednn_linears(model, "cpu"):
        output, names = run_profiled(model, batch)
    torch.testing.assert_close(output, reference, atol=1e-5, rtol=1e-5)
    assert "aten::gelu" in names


def test_autograd_inside_the_block_takes_the_stock_path():
    model, batch = small_model("bert"), inputs()
    model.zero_grad()
    model(**batch).last_hidden_state.sum().backward()
    reference = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    model.zero_grad()
    with onednn_linears(model, "cpu"), profile() as prof:
        model(**batch).last_hidden_state.sum().backward()
    assert "mkldnn::_linear_pointwise" not in [event.name for event in prof.events()]
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert len(grads) == len(reference)
    for grad, expected in zip(grads, reference):
        torch.testing.assert_close(grad, expected)


def test_block_removes_its_forwards_on_error_and_is_a_no_op_off_cpu():
    model = small_model("bert")
    with pytest.raises(RuntimeError, match="boom"):
        with onednn_linears(model, "cpu"):
            # every intermediate block in place of its dense linear, every other linear
            assert len(patched_modules(model)) == linear_count(model)
            raise RuntimeError("boom")
    assert patched_modules(model) == []
    pickle.dumps(model)  # nothing unpicklable left behind
    with onednn_linears(model, "cuda:0"):
        assert patched_modules(model) == []


def test_overlapping_blocks_in_two_threads_share_the_forwards_and_exit_cleanly():
    model, batch = small_model("bert"), inputs()
    reference, _ = run_profiled(model, batch)
    first_inside, second_done, errors, outputs = threading.Event(), threading.Event(), [], []

    def first():
        with onednn_linears(model, "cpu"):
            first_inside.set()
            second_done.wait(timeout=60)

    def second():
        first_inside.wait(timeout=60)
        try:
            with onednn_linears(model, "cpu"):  # finds the first block's forwards and leaves them alone
                with torch.inference_mode():
                    outputs.append(model(**batch).last_hidden_state)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and len(outputs) == 1
    torch.testing.assert_close(outputs[0], reference, atol=1e-5, rtol=1e-5)
    assert patched_modules(model) == []


@pytest.mark.parametrize("prepack_min_tokens, reorders", [(10_000, 0), (10, 1)])
def test_flagmodel_encode_runs_on_onednn_and_prepacks_long_calls(tiny_bert, monkeypatch, prepack_min_tokens,
                                                                 reorders):
    monkeypatch.setattr(base, "PREPACK_MIN_TOKENS", prepack_min_tokens)
    model = FlagModel(tiny_bert, devices="cpu")
    texts = ["a short text", "another, somewhat longer text for the encoder"]
    expected = torch.nn.functional.normalize(
        model.model(**model.tokenizer(texts, padding=True, return_tensors="pt")).last_hidden_state[:, 0], dim=-1)
    with profile() as prof:
        embeddings = model.encode(texts)
    names = [event.name for event in prof.events()]
    assert "mkldnn::_linear_pointwise" in names
    assert names.count("mkldnn::_reorder_linear_weight") == reorders * linear_count(model.model)
    torch.testing.assert_close(torch.from_numpy(embeddings), expected.detach(), atol=1e-5, rtol=1e-5)
    assert patched_modules(model.model) == []


def test_last_level_cache_is_the_largest_data_cache(tmp_path):
    for index, (kind, size) in enumerate([("Data", "32K"), ("Instruction", "64M"), ("Unified", "1024K"),
                                          ("Unified", "32768K")]):
        folder = tmp_path / f"index{index}"
        folder.mkdir()
        (folder / "type").write_text(kind + "\n")
        (folder / "size").write_text(size + "\n")
    assert last_level_cache_bytes(str(tmp_path)) == 32 << 20
    assert last_level_cache_bytes(str(tmp_path / "missing")) is None
