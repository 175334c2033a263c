"""Reranker constructor options: declared, stored by the class that declares them, recorded in ``self.kwargs``."""
from __future__ import annotations

import pytest

from FlagEmbedding import FlagLLMReranker, FlagReranker, LayerWiseFlagLLMReranker, LightWeightFlagLLMReranker


def test_cross_encoder_options(xlmr_reranker_dir):
    reranker = FlagReranker(xlmr_reranker_dir, devices="cpu", use_bf16=True, trust_remote_code=False)
    assert (reranker.use_bf16, reranker.trust_remote_code, reranker.cache_dir) == (True, False, None)
    assert reranker.kwargs == {"use_bf16": True, "trust_remote_code": False, "cache_dir": None}
    assert FlagReranker(xlmr_reranker_dir, devices="cpu").use_bf16 is False


def test_llm_reranker_options(llm_reranker_dir):
    reranker = FlagLLMReranker(llm_reranker_dir, devices="cpu", prompt="Relevant?", attn_implementation="eager",
                               custom_option=1)
    assert (reranker.prompt, reranker.peft_path, reranker.attn_implementation) == ("Relevant?", None, "eager")
    assert reranker.model.config._attn_implementation == "eager"
    assert reranker.custom_option == 1
    assert reranker.kwargs == {"peft_path": None, "use_bf16": False, "cache_dir": None, "trust_remote_code": False,
                               "prompt": "Relevant?", "attn_implementation": "eager", "custom_option": 1}


def test_layerwise_options(minicpm_dir):
    with pytest.warns(UserWarning, match="cannot both be `False`"):
        reranker = LayerWiseFlagLLMReranker(minicpm_dir, devices="cpu", cutoff_layers=[3])
    assert reranker.cutoff_layers == [3] and reranker.kwargs["cutoff_layers"] == [3]
    assert reranker.use_fp16 is True  # forced on (the CPU still computes in fp32)


def test_lightweight_options(gemma2_lightweight_dir):
    reranker = LightWeightFlagLLMReranker(gemma2_lightweight_dir, devices="cpu", use_bf16=True,
                                          compress_layers=(2, 3), compress_ratio=2)
    assert (reranker.compress_layers, reranker.compress_ratio) == ([2, 3], 2)
    assert reranker.kwargs["compress_layers"] == [2, 3] and reranker.kwargs["compress_ratio"] == 2
    assert reranker.attn_implementation is None and reranker.cutoff_layers is None
    default = LightWeightFlagLLMReranker(gemma2_lightweight_dir, devices="cpu", use_bf16=True)
    assert default.compress_layers == [8] and default.compress_ratio == 1
