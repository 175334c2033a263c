"""Decoder-only (LLM) rerankers."""
from FlagEmbedding.inference.reranker.decoder_only.base import BaseLLMReranker
from FlagEmbedding.inference.reranker.decoder_only.layerwise import LayerWiseLLMReranker
from FlagEmbedding.inference.reranker.decoder_only.lightweight import LightweightLLMReranker
from FlagEmbedding.inference.reranker.decoder_only.qwen3 import Qwen3LLMReranker

FlagLLMReranker = BaseLLMReranker
LayerWiseFlagLLMReranker = LayerWiseLLMReranker
LightWeightFlagLLMReranker = LightweightLLMReranker

__all__ = ["FlagLLMReranker", "LayerWiseFlagLLMReranker", "LightWeightFlagLLMReranker", "Qwen3LLMReranker"]
