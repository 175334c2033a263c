"""Decoder-only embedder (``FlagLLMModel``): a causal LM backbone with last-token pooling."""
from __future__ import annotations

from typing import Any, Optional

from FlagEmbedding.abc.inference.devices import DevicesArg
from FlagEmbedding.inference.embedder.encoder_only.base import BaseEmbedder

LLM_POOLING_ERROR = "Pooling method must be 'last_token' for LLM-based models."


class BaseLLMEmbedder(BaseEmbedder):
    """Dense embeddings from a decoder-only model (bge-multilingual-gemma2, e5-mistral, gte-Qwen2, Qwen3-Embedding...).

    The backbone is loaded with ``AutoModel`` (no LM head); the tokenizer's padding side is kept and only its
    default special tokens are added (no EOS is appended). The sentence vector is the hidden state of the last
    real token: position -1 when every row ends with a real token (left padding), else ``mask.sum() - 1``.

    Arguments not listed are those of :class:`~FlagEmbedding.abc.inference.AbsEmbedder`.

    Args:
        query_instruction_format: Defaults to ``"Instruct: {}\\nQuery: {}"`` (a real newline).
        trust_remote_code: Passed to ``from_pretrained``.
        cache_dir: Hugging Face download cache.
        kwargs: As for :class:`~FlagEmbedding.inference.embedder.encoder_only.base.BaseEmbedder`;
            ``pooling_method`` may only be ``"last_token"``.

    Raises:
        ValueError: ``"Pooling method must be 'last_token' for LLM-based models."`` for any other pooling method.
    """

    DEFAULT_POOLING_METHOD = "last_token"
    ALLOWED_POOLING_METHODS = ("last_token",)

    def __init__(
        self,
        model_name_or_path: str,
        normalize_embeddings: bool = True,
        use_fp16: bool = True,
        use_bf16: bool = False,
        query_instruction_for_retrieval: Optional[str] = None,
        query_instruction_format: str = "Instruct: {}\nQuery: {}",
        devices: DevicesArg = None,
        trust_remote_code: bool = False,
        cache_dir: Optional[str] = None,
        batch_size: int = 256,
        query_max_length: int = 512,
        passage_max_length: int = 512,
        convert_to_numpy: bool = True,
        truncate_dim: Optional[int] = None,
        **kwargs: Any,
    ):
        kwargs.setdefault("pooling_method", self.DEFAULT_POOLING_METHOD)
        super().__init__(
            model_name_or_path,
            normalize_embeddings=normalize_embeddings,
            use_fp16=use_fp16,
            use_bf16=use_bf16,
            query_instruction_for_retrieval=query_instruction_for_retrieval,
            query_instruction_format=query_instruction_format,
            devices=devices,
            trust_remote_code=trust_remote_code,
            cache_dir=cache_dir,
            batch_size=batch_size,
            query_max_length=query_max_length,
            passage_max_length=passage_max_length,
            convert_to_numpy=convert_to_numpy,
            truncate_dim=truncate_dim,
            **kwargs,
        )

    def check_pooling_method(self, pooling_method: str) -> None:
        """Only last-token pooling is meaningful for a causal model."""
        if pooling_method not in self.ALLOWED_POOLING_METHODS:
            raise ValueError(LLM_POOLING_ERROR)
