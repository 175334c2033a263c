"""Encoder-only bi-encoder: an HF ``AutoModel`` with cls / mean / last-token pooling."""
from __future__ import annotations

from FlagEmbedding.abc.finetune.embedder import PooledEmbedderModel


class BiEncoderOnlyEmbedderModel(PooledEmbedderModel):
    """Dense encoder-only embedder; pooling defaults to ``cls`` (see :class:`PooledEmbedderModel`)."""
