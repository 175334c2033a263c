"""LLM rerankers against independent references built from plain transformers models and raw weights."""
from __future__ import annotations

import json
import logging
import math
import os

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import (AutoModelForCausalLM, AutoTokenizer, Gemma2Config, Gemma2Model, LlamaConfig,
                          LlamaModel)

from FlagEmbedding import FlagLLMReranker, LayerWiseFlagLLMReranker, LightWeightFlagLLMReranker
from FlagEmbedding.utils.reranker_inputs import DEFAULT_LLM_PROMPT as DEFAULT_PROMPT
from FlagEmbedding.inference.reranker.decoder_only.lightweight import DEFAULT_PROMPT as LIGHT_PROMPT
from FlagEmbedding.inference.reranker.decoder_only.models import CostWiseGemmaForCausalLM, LayerWiseMiniCPMForCausalLM

# ---------------------------------------------------------------------------- reference helpers


def build_ids(tokenizer, query, passage, prompt, query_max_length, max_length, bos, q_instr="A: ", p_instr="B: "):
    """``bos + tok(A: q)[:qml] + sep + tok(B: p)[:ml]``, cut to ``ml + |sep| + |prompt|``, ``+ sep + prompt``.

    Returns the ids, the query span length (bos + q + sep) and the prompt span length (sep + prompt).
    """
    sep = tokenizer("\n", add_special_tokens=False)["input_ids"]
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    q_ids = tokenizer((q_instr or "") + query, add_special_tokens=False)["input_ids"][:query_max_length]
    p_ids = tokenizer((p_instr or "") + passage, add_special_tokens=False)["input_ids"][:max_length]
    first = bos + q_ids
    second = sep + p_ids
    limit = max_length + len(sep) + len(prompt_ids)
    if len(first) + len(second) > limit and len(second) > len(first) + len(second) - limit:
        second = second[: limit - len(first)]
    return first + second + sep + prompt_ids, len(first) + len(sep), len(sep) + len(prompt_ids)


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def llm_reference(folder, pairs, prompt=DEFAULT_PROMPT, query_max_length=384, max_length=512, with_bos=True,
                  **instr):
    """The ``Yes`` logit at the last position of each pair run alone through ``AutoModelForCausalLM``."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    yes = tokenizer("Yes", add_special_tokens=False)["input_ids"][0]
    bos = [tokenizer.bos_token_id] if with_bos else []
    scores = []
    for query, passage in pairs:
        ids, _, _ = build_ids(tokenizer, query, passage, prompt, query_max_length, max_length, bos, **instr)
        with torch.no_grad():
            scores.append(model(input_ids=torch.tensor([ids])).logits[0, -1, yes].item())
    return scores


def read_config(folder):
    with open(os.path.join(folder, "config.json")) as f:
        return json.load(f)


def minicpm_reference(folder, pairs, layers, prompt=DEFAULT_PROMPT):
    """MiniCPM layer-wise scores from a transformers ``LlamaModel`` holding the same weights.

    MiniCPM = Llama with embeddings x ``scale_emb`` and residual branches x ``scale_depth/sqrt(n)``; the
    branch scale is folded into ``o_proj`` / ``down_proj`` (both bias-free). Layer L's score is head
    ``L - start_layer`` on the final-norm state after L layers, at the last token.
    """
    cfg = read_config(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    weights = load_file(os.path.join(folder, "model.safetensors"))
    n = cfg["num_hidden_layers"]
    llama = LlamaModel(LlamaConfig(
        vocab_size=cfg["vocab_size"], hidden_size=cfg["hidden_size"], intermediate_size=cfg["intermediate_size"],
        num_hidden_layers=n, num_attention_heads=cfg["num_attention_heads"],
        num_key_value_heads=cfg["num_key_value_heads"], max_position_embeddings=cfg["max_position_embeddings"],
        rms_norm_eps=cfg["rms_norm_eps"], rope_parameters=cfg["rope_parameters"], pad_token_id=cfg["pad_token_id"],
    )).eval()
    branch_scale = cfg["scale_depth"] / math.sqrt(n)
    state = {}
    for key, value in weights.items():
        if key.startswith("model."):
            name = key[len("model."):]
            if name.endswith(("o_proj.weight", "down_proj.weight")):
                value = value * branch_scale
            state[name] = value
    llama.load_state_dict(state)
    scores = {layer: [] for layer in layers}
    for query, passage in pairs:
        ids, _, _ = build_ids(tokenizer, query, passage, prompt, 384, 512, [tokenizer.bos_token_id])
        with torch.no_grad():
            embeds = llama.embed_tokens(torch.tensor([ids])) * cfg["scale_emb"]
            hidden = llama(inputs_embeds=embeds, output_hidden_states=True).hidden_states
            for layer in layers:
                final = hidden[layer] if layer == n else llama.norm(hidden[layer])  # the last one is normed
                head = weights[f"lm_head.{layer - cfg['start_layer']}.linear_head.weight"]
                scores[layer].append((final[0, -1] @ head[0]).item())
    return [scores[layer] for layer in layers]


def gemma_segment(full, cfg, start, end):
    """A transformers Gemma2Model running the original layers ``start..end-1`` on given embeddings (no norm)."""
    config = Gemma2Config(**{**cfg, "num_hidden_layers": end - start, "layer_types": cfg["layer_types"][start:end]})
    config._attn_implementation = "eager"
    segment = Gemma2Model(config).eval()
    for j, i in enumerate(range(start, end)):
        segment.layers[j].load_state_dict(full.layers[i].state_dict())
    segment.norm = torch.nn.Identity()
    return segment


def compress(hidden, query_length, prompt_length, ratio):
    """Replace every ``ratio`` consecutive passage tokens of a single unpadded row by their mean."""
    length = hidden.shape[1]
    passage = hidden[0, query_length:length - prompt_length]
    groups = [passage[i:i + ratio].mean(dim=0) for i in range(0, passage.shape[0], ratio)]
    return torch.cat([hidden[0, :query_length], torch.stack(groups), hidden[0, length - prompt_length:]])[None]


def gemma_reference(folder, pairs, layers, compress_layers=(), ratio=1, prompt=LIGHT_PROMPT,
                    query_max_length=384, max_length=512):
    """Cost-wise Gemma2 scores from transformers Gemma2 layers, compressing by hand between segments.

    The k-th requested layer (ascending) is scored by head k on its final-norm state at the last token,
    then soft-capped.
    """
    raw = read_config(folder)
    keys = ["vocab_size", "hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads",
            "head_dim", "max_position_embeddings", "rms_norm_eps", "rope_parameters", "hidden_activation",
            "query_pre_attn_scalar", "attn_logit_softcapping", "sliding_window", "layer_types",
            "final_logit_softcapping", "pad_token_id"]
    cfg = {key: raw[key] for key in keys}
    n, cap = raw["num_hidden_layers"], raw["final_logit_softcapping"]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    weights = load_file(os.path.join(folder, "model.safetensors"))
    config = Gemma2Config(**cfg, num_hidden_layers=n)
    config._attn_implementation = "eager"
    full = Gemma2Model(config).eval()
    full.load_state_dict({k[len("model."):]: v for k, v in weights.items() if k.startswith("model.")})
    cuts = sorted(c for c in set(compress_layers) if c != 0) if ratio > 1 else []
    layers = sorted(set(layers))
    scores = [[] for _ in layers]
    for query, passage in pairs:
        ids, query_length, prompt_length = build_ids(
            tokenizer, query, passage, prompt, query_max_length, max_length, [tokenizer.bos_token_id])
        with torch.no_grad():
            hidden = full.embed_tokens(torch.tensor([ids]))
            states = {}
            start = 0
            for end in cuts + [n]:
                if start in cuts:
                    hidden = compress(hidden, query_length, prompt_length, ratio)
                outputs = gemma_segment(full, cfg, start, end)(inputs_embeds=hidden, output_hidden_states=True)
                for j, state in enumerate(outputs.hidden_states[1:], start=1):
                    states[start + j] = full.norm(state)
                hidden = outputs.hidden_states[-1]
                start = end
            for k, layer in enumerate(layers):
                logit = (states[layer][0, -1] @ weights[f"lm_head.{k}.linear_head.weight"][0]).item()
                scores[k].append(cap * math.tanh(logit / cap))
    return scores


LONG_PAIRS = [
    ["what is the capital of France? " * 6, "The giant panda is a bear species endemic to China. " * 6],
    ["hi", "Paris is the capital of France. " * 10],
]

# ---------------------------------------------------------------------------- FlagLLMReranker


@pytest.fixture(scope="module")
def llm(llm_reranker_dir):
    return FlagLLMReranker(llm_reranker_dir, devices="cpu", batch_size=2)


def test_llm_scores_match_reference(llm, llm_reranker_dir, pairs):
    assert llm.tokenizer.padding_side == "left"
    scores = llm.compute_score(pairs)
    assert scores == pytest.approx(llm_reference(llm_reranker_dir, pairs), abs=1e-5)
    assert llm.compute_score(pairs[1]) == pytest.approx(scores[1], abs=1e-5)
    assert llm.compute_score([]) == []


def test_llm_truncation_and_normalize(llm, llm_reranker_dir):
    expected = llm_reference(llm_reranker_dir, LONG_PAIRS, query_max_length=5, max_length=12)
    assert llm.compute_score(LONG_PAIRS, query_max_length=5, max_length=12) == pytest.approx(expected, abs=1e-5)
    normalized = llm.compute_score(LONG_PAIRS, query_max_length=5, max_length=12, normalize=True)
    assert normalized == pytest.approx([sigmoid(x) for x in expected], abs=1e-5)


def test_llm_right_padding_and_prompt(llm_reranker_dir, pairs):
    reranker = FlagLLMReranker(llm_reranker_dir, devices="cpu", prompt="Is B relevant to A?",
                               query_instruction_for_rerank=None, passage_instruction_for_rerank=None)
    reranker.tokenizer.padding_side = "right"
    expected = llm_reference(llm_reranker_dir, pairs, prompt="Is B relevant to A?", q_instr=None, p_instr=None)
    assert reranker.compute_score(pairs) == pytest.approx(expected, abs=1e-5)
    per_call = llm_reference(llm_reranker_dir, pairs, prompt="Other prompt", q_instr=None, p_instr=None)
    assert reranker.compute_score(pairs, prompt="Other prompt") == pytest.approx(per_call, abs=1e-5)
    with pytest.raises(TypeError, match="`prompt` must be a str"):
        reranker.compute_score(pairs, prompt=3)


def test_llm_without_bos_token(tmp_path, pairs):
    from tests.tiny_models import save_tiny_decoder

    folder = save_tiny_decoder(str(tmp_path / "qwen2-reranker"), causal_lm=True, arch="qwen2")
    reranker = FlagLLMReranker(folder, devices="cpu")
    assert reranker.tokenizer.bos_token_id is None
    assert reranker.compute_score(pairs) == pytest.approx(llm_reference(folder, pairs, with_bos=False), abs=1e-5)


def test_llm_peft_adapter_is_merged(tmp_path, llm_reranker_dir, pairs):
    from peft import LoraConfig, PeftModel, get_peft_model

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(llm_reranker_dir)
    lora = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                           init_lora_weights=False))
    lora.save_pretrained(str(tmp_path / "adapter"))
    reranker = FlagLLMReranker(llm_reranker_dir, peft_path=str(tmp_path / "adapter"), devices="cpu")

    tokenizer = AutoTokenizer.from_pretrained(llm_reranker_dir)
    adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(llm_reranker_dir),
                                        str(tmp_path / "adapter")).eval()
    yes = tokenizer("Yes", add_special_tokens=False)["input_ids"][0]
    expected = []
    for query, passage in pairs:
        ids, _, _ = build_ids(tokenizer, query, passage, DEFAULT_PROMPT, 384, 512, [tokenizer.bos_token_id])
        with torch.no_grad():
            expected.append(adapted(input_ids=torch.tensor([ids])).logits[0, -1, yes].item())
    scores = reranker.compute_score(pairs)
    assert scores == pytest.approx(expected, abs=1e-5)
    assert scores != pytest.approx(llm_reference(llm_reranker_dir, pairs), abs=1e-3)


def test_llm_use_dataloader(llm, llm_reranker_dir, pairs):
    assert llm.compute_score(pairs, use_dataloader=True, num_workers=2) == pytest.approx(
        llm_reference(llm_reranker_dir, pairs), abs=1e-5)
    assert llm.compute_score(pairs, use_dataloader=True) == pytest.approx(
        llm_reference(llm_reranker_dir, pairs), abs=1e-5)


# ---------------------------------------------------------------------------- layer-wise MiniCPM


@pytest.fixture(scope="module")
def layerwise(minicpm_dir):
    with pytest.warns(UserWarning, match="cannot both be `False`"):
        return LayerWiseFlagLLMReranker(minicpm_dir, devices="cpu", batch_size=2)


def test_minicpm_checkpoint_layout(minicpm_dir):
    weights = load_file(os.path.join(minicpm_dir, "model.safetensors"))
    assert read_config(minicpm_dir)["model_type"] == "minicpm"
    assert {f"lm_head.{k}.linear_head.weight" for k in range(3)} <= set(weights)
    assert weights["lm_head.0.linear_head.weight"].shape == (1, 32)
    for name in ["model.embed_tokens.weight", "model.norm.weight", "model.layers.3.self_attn.o_proj.weight",
                 "model.layers.0.mlp.gate_proj.weight", "model.layers.0.post_attention_layernorm.weight"]:
        assert name in weights
    # registered with the Auto classes: no remote code needed
    assert type(AutoModelForCausalLM.from_pretrained(minicpm_dir)) is LayerWiseMiniCPMForCausalLM


def test_gemma2_checkpoint_layout(gemma2_lightweight_dir):
    weights = load_file(os.path.join(gemma2_lightweight_dir, "model.safetensors"))
    assert read_config(gemma2_lightweight_dir)["model_type"] == "cost_wise_gemma"
    assert {k for k in weights if k.startswith("lm_head.")} == {f"lm_head.{k}.linear_head.weight" for k in range(4)}
    for name in ["model.layers.1.pre_feedforward_layernorm.weight", "model.layers.1.post_feedforward_layernorm.weight",
                 "model.embed_tokens.weight", "model.norm.weight"]:
        assert name in weights
    assert type(AutoModelForCausalLM.from_pretrained(gemma2_lightweight_dir)) is CostWiseGemmaForCausalLM


def test_minicpm_layers_match_llama_reference(layerwise, minicpm_dir, pairs):
    assert layerwise.use_fp16 is True and next(layerwise.model.parameters()).dtype == torch.float32
    scores = layerwise.compute_score(pairs, cutoff_layers=[2, 4])
    assert len(scores) == 2 and all(len(layer) == len(pairs) for layer in scores)
    expected = minicpm_reference(minicpm_dir, pairs, [2, 4])
    assert scores[0] == pytest.approx(expected[0], abs=1e-5)
    assert scores[1] == pytest.approx(expected[1], abs=1e-5)
    # unsorted and duplicated layers are sorted and deduplicated (heads follow the layer numbers)
    assert np.array(layerwise.compute_score(pairs, cutoff_layers=[4, 2, 4])) == pytest.approx(np.array(scores), abs=1e-6)
    # default: the last layer, as a flat list; an int selects one layer
    assert layerwise.compute_score(pairs) == pytest.approx(expected[1], abs=1e-5)
    assert layerwise.compute_score(pairs, cutoff_layers=2) == pytest.approx(expected[0], abs=1e-5)
    # one pair, two layers -> one float per layer
    assert layerwise.compute_score(pairs[0], cutoff_layers=[2, 4]) == pytest.approx(
        [expected[0][0], expected[1][0]], abs=1e-5)
    normalized = layerwise.compute_score(pairs, cutoff_layers=[2, 4], normalize=True)
    assert normalized[0] == pytest.approx([sigmoid(x) for x in expected[0]], abs=1e-5)


def test_minicpm_scaling_factors(minicpm_scaled_dir, pairs):
    reranker = LayerWiseFlagLLMReranker(minicpm_scaled_dir, devices="cpu", use_bf16=False, use_fp16=True,
                                        cutoff_layers=[3, 4])
    expected = minicpm_reference(minicpm_scaled_dir, pairs, [3, 4])
    scores = reranker.compute_score(pairs)
    assert scores[0] == pytest.approx(expected[0], abs=1e-5)
    assert scores[1] == pytest.approx(expected[1], abs=1e-5)


def test_minicpm_out_of_range_cutoff_layers(layerwise, minicpm_dir, pairs, caplog):
    with caplog.at_level(logging.WARNING):
        scores = layerwise.compute_score(pairs, cutoff_layers=[1, 3, 9])
    assert "layers [1, 9] are incompatible with the setting. They will be removed..." in caplog.text
    assert scores == pytest.approx(minicpm_reference(minicpm_dir, pairs, [3])[0], abs=1e-5)
    with pytest.raises(ValueError, match=r"Your cutoff layers must in \[2, 4\]; got \[0, 5\]"):
        layerwise.compute_score(pairs, cutoff_layers=[0, 5])
    with pytest.raises(ValueError, match="must be int layer numbers"):
        layerwise.compute_score(pairs, cutoff_layers=["4"])


def test_minicpm_loads_released_style_config(tmp_path, minicpm_dir, pairs):
    """The released config.json spells RoPE the legacy way and carries remote-code entries."""
    import shutil

    folder = str(tmp_path / "bge-reranker-v2-minicpm-layerwise")
    shutil.copytree(minicpm_dir, folder)
    cfg = read_config(folder)
    cfg["rope_theta"] = cfg.pop("rope_parameters")["rope_theta"]
    cfg.update(rope_scaling=None, architectures=["LayerWiseMiniCPMForCausalLM"],
               auto_map={"AutoModelForCausalLM": "modeling_minicpm_reranker.LayerWiseMiniCPMForCausalLM"})
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f)
    reranker = LayerWiseFlagLLMReranker(folder, devices="cpu", use_fp16=True, cutoff_layers=[2])
    assert reranker.compute_score(pairs) == pytest.approx(minicpm_reference(minicpm_dir, pairs, [2])[0], abs=1e-5)


# ---------------------------------------------------------------------------- lightweight Gemma2


@pytest.fixture(scope="module")
def lightweight(gemma2_lightweight_dir):
    with pytest.warns(UserWarning, match="cannot both be `False`"):
        return LightWeightFlagLLMReranker(gemma2_lightweight_dir, devices="cpu", batch_size=3)


def test_lightweight_without_compression_matches_gemma2(lightweight, gemma2_lightweight_dir, pairs):
    assert lightweight.tokenizer.padding_side == "right" and lightweight.use_fp16 is True
    assert (lightweight.compress_layers, lightweight.compress_ratio) == ([8], 1)
    scores = lightweight.compute_score(pairs, cutoff_layers=[2, 4])
    expected = gemma_reference(gemma2_lightweight_dir, pairs, [2, 4])
    assert scores[0] == pytest.approx(expected[0], abs=1e-5)
    assert scores[1] == pytest.approx(expected[1], abs=1e-5)
    # default cutoff = last layer, scored by head 0 (positional head indexing, as the checkpoint was trained)
    assert lightweight.compute_score(pairs) == pytest.approx(
        gemma_reference(gemma2_lightweight_dir, pairs, [4])[0], abs=1e-5)
    assert all(abs(s) < 0.5 for s in scores[0])  # soft-capped by final_logit_softcapping = 0.5


@pytest.mark.parametrize("compress_layers, ratio, layers", [([2], 2, [1, 2, 3, 4]), ([1, 3], 3, [2, 4]),
                                                              ([2], 4, [4])])
def test_lightweight_compression_matches_mean_pooled_reference(lightweight, gemma2_lightweight_dir, compress_layers,
                                                               ratio, layers):
    pairs = LONG_PAIRS + [["panda?", "The giant panda is a bear species endemic to China."]]
    scores = lightweight.compute_score(pairs, cutoff_layers=layers, compress_layers=compress_layers,
                                       compress_ratio=ratio)
    expected = gemma_reference(gemma2_lightweight_dir, pairs, layers, compress_layers, ratio)
    uncompressed = gemma_reference(gemma2_lightweight_dir, pairs, layers)
    scores = scores if len(layers) > 1 else [scores]
    for got, want in zip(scores, expected):
        assert got == pytest.approx(want, abs=1e-5)
    assert scores[-1] != pytest.approx(uncompressed[-1], abs=1e-4)  # compression changed the computation


def test_lightweight_compression_options(gemma2_lightweight_dir, caplog):
    reranker = LightWeightFlagLLMReranker(gemma2_lightweight_dir, devices="cpu", use_fp16=True,
                                          compress_layers=2, compress_ratio=2, cutoff_layers=[3])
    pairs = LONG_PAIRS
    expected = gemma_reference(gemma2_lightweight_dir, pairs, [3], [2], 2)[0]
    assert reranker.compute_score(pairs) == pytest.approx(expected, abs=1e-5)
    with caplog.at_level(logging.WARNING):
        aliased = reranker.compute_score(pairs, compress_layer=[1], compress_layers=[2])
    assert "Try not to use the parameter `compress_layer`; use `compress_layers` instead." in caplog.text
    assert aliased == pytest.approx(gemma_reference(gemma2_lightweight_dir, pairs, [3], [1], 2)[0], abs=1e-5)
    # compression before layer 0 is ignored
    assert reranker.compute_score(pairs, compress_layers=[0]) == pytest.approx(
        gemma_reference(gemma2_lightweight_dir, pairs, [3])[0], abs=1e-5)


@pytest.mark.parametrize("kwargs, message", [
    ({"compress_ratio": 0}, "`compress_ratio` must be an integer >= 1 (1 = no compression), got 0."),
    ({"compress_ratio": 1.5}, "`compress_ratio` must be an integer >= 1"),
    ({"compress_layers": [4], "compress_ratio": 2}, "`compress_layers` must be layer indices in [0, 3], got [4]"),
    ({"compress_layers": [-1], "compress_ratio": 2}, "got [-1]"),
    ({"cutoff_layers": [0]}, "Your cutoff layers must in [1, 4]; got [0]."),
])
def test_lightweight_rejects_out_of_range_values(lightweight, pairs, kwargs, message):
    with pytest.raises(ValueError) as info:
        lightweight.compute_score(pairs, **kwargs)
    assert message in str(info.value)


def test_compression_requires_right_padding(gemma2_lightweight_dir):
    model = CostWiseGemmaForCausalLM.from_pretrained(gemma2_lightweight_dir).eval()
    ids = torch.tensor([[5, 6, 7, 8, 9, 10], [1, 1, 7, 8, 9, 10]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1]])
    with pytest.raises(ValueError, match="You must use right padding"):
        model(input_ids=ids, attention_mask=mask, compress_layer=[1], compress_ratio=2,
              query_lengths=[1, 1], prompt_lengths=[1, 1])
    # without compression left padding is fine
    out = model(input_ids=ids, attention_mask=mask, cutoff_layers=[2, 4])
    assert [logits.shape for logits in out.logits] == [(2, 6), (2, 6)]
    assert out.logits[0].dtype == torch.float32
