"""Bundled model code for the layer-wise rerankers, registered with the transformers Auto classes.

``model_type`` ``"minicpm"`` -> :class:`LayerWiseMiniCPMForCausalLM`; ``"cost_wise_gemma"`` ->
:class:`CostWiseGemmaForCausalLM`. The released checkpoints load without ``trust_remote_code``.
"""
from transformers import AutoConfig, AutoModelForCausalLM

from FlagEmbedding.inference.reranker.decoder_only.models.gemma2_costwise import (
    CostWiseGemmaConfig,
    CostWiseGemmaForCausalLM,
    CostWiseGemmaModel,
)
from FlagEmbedding.inference.reranker.decoder_only.models.minicpm_layerwise import (
    LayerWiseMiniCPMConfig,
    LayerWiseMiniCPMForCausalLM,
    LayerWiseMiniCPMModel,
)

AutoConfig.register(LayerWiseMiniCPMConfig.model_type, LayerWiseMiniCPMConfig, exist_ok=True)
AutoModelForCausalLM.register(LayerWiseMiniCPMConfig, LayerWiseMiniCPMForCausalLM, exist_ok=True)
AutoConfig.register(CostWiseGemmaConfig.model_type, CostWiseGemmaConfig, exist_ok=True)
AutoModelForCausalLM.register(CostWiseGemmaConfig, CostWiseGemmaForCausalLM, exist_ok=True)

__all__ = [
    "LayerWiseMiniCPMConfig",
    "LayerWiseMiniCPMModel",
    "LayerWiseMiniCPMForCausalLM",
    "CostWiseGemmaConfig",
    "CostWiseGemmaModel",
    "CostWiseGemmaForCausalLM",
]
