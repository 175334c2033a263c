"""Encoder-only embedders."""
from FlagEmbedding.inference.embedder.encoder_only.base import BaseEmbedder
from FlagEmbedding.inference.embedder.encoder_only.m3 import M3Embedder

FlagModel = BaseEmbedder
BGEM3FlagModel = M3Embedder

__all__ = ["FlagModel", "BGEM3FlagModel", "BaseEmbedder", "M3Embedder"]
