from FlagEmbedding.inference.embedder.encoder_only.base import BaseEmbedder

FlagModel = BaseEmbedder

__all__ = ["FlagModel"]
