"""Encoder-only (cross-encoder) rerankers."""
from FlagEmbedding.inference.reranker.encoder_only.base import BaseReranker

FlagReranker = BaseReranker

__all__ = ["FlagReranker"]
