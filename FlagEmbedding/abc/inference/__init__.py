"""Abstract inference classes: every embedder derives from AbsEmbedder, every reranker from AbsReranker."""
from FlagEmbedding.abc.inference.embedder import AbsEmbedder

__all__ = ["AbsEmbedder"]
