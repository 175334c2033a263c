"""Decoder-only embedders: ``FlagLLMModel``, ``FlagICLModel`` (bge-en-icl) and ``FlagPseudoMoEModel``."""
from FlagEmbedding.inference.embedder.decoder_only.base import BaseLLMEmbedder
from FlagEmbedding.inference.embedder.decoder_only.icl import ICLLLMEmbedder
from FlagEmbedding.inference.embedder.decoder_only.pseudo_moe import PseudoMoELLMEmbedder

FlagLLMModel = BaseLLMEmbedder
FlagICLModel = ICLLLMEmbedder
FlagPseudoMoEModel = PseudoMoELLMEmbedder

__all__ = ["FlagLLMModel", "FlagICLModel", "FlagPseudoMoEModel"]
