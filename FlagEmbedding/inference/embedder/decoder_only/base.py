"""Decoder-only embedder (``FlagLLMModel``): a causal LM backbone with last-token pooling."""
from __future__ import annotations

from typing import Any

from FlagEmbedding.inference.embedder.encoder_only.base import BaseEmbedder

LLM_POOLING_ERROR = "Pooling method must be 'last_token' for LLM-based models."


class BaseLLMEmbedder(BaseEmbedder):
    """Dense embeddings from a decoder-only model (bge-multilingual-gemma2, e5-mistral, gte-Qwen2, Qwen3-Embedding...).

    The backbone is loaded with ``AutoModel`` (no LM head); the tokenizer's padding side is kept and only its
    default special tokens are added (no EOS is appended). The sentence vector is the hidden state of the last
    real token: position -1 when every row ends with a real token (left padding), else ``mask.sum() - 1``.

    Arguments not listed are those of :class:`~FlagEmbedding.inference.embedder.encoder_only.base.BaseEmbedder`
    (``trust_remote_code``, ``cache_dir``) and :class:`~FlagEmbedding.abc.inference.AbsEmbedder`.

    Args:
        query_instruction_format: Defaults to ``"Instruct: {}\\nQuery: {}"`` (a real newline).
        pooling_method: Only ``"last_token"`` (the default) is accepted.

    Raises:
        ValueError: ``"Pooling method must be 'last_token' for LLM-based models."`` for any other pooling method.
    """

    DEFAULT_POOLING_METHOD = "last_token"
    ALLOWED_POOLING_METHODS = ("last_token",)
    onnx_output = None  # decoder LLMs run on torch only

    def __init__(
        self,
        model_name_or_path: str,
        *,
        query_instruction_format: str = "Instruct: {}\nQuery: {}",
        pooling_method: str = "last_token",
        **kwargs: Any,
    ):
        super().__init__(
            model_name_or_path,
            query_instruction_format=query_instruction_format,
            pooling_method=pooling_method,
            **kwargs,
        )

    def check_pooling_method(self, pooling_method: str) -> None:
        """Only last-token pooling is meaningful for a causal model."""
        if pooling_method not in self.ALLOWED_POOLING_METHODS:
            raise ValueError(LLM_POOLING_ERROR)
