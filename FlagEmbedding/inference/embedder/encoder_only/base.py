"""Encoder-only embedder (``FlagModel``): a transformer encoder plus pooling."""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Union

import torch
from transformers import AutoModel

from FlagEmbedding.abc.inference.embedder import AbsEmbedder
from FlagEmbedding.utils.hub import from_pretrained
from FlagEmbedding.utils.pooling import POOLING_METHODS, check_pooling_method, pool


class BaseEmbedder(AbsEmbedder):
    """Dense embeddings from a Hugging Face encoder (BGE, E5, GTE, ...).

    Args (beyond :class:`~FlagEmbedding.abc.inference.AbsEmbedder`):
        pooling_method: ``"cls"`` (default), ``"mean"`` or ``"last_token"``.
        trust_remote_code: Passed to ``from_pretrained``.
        cache_dir: Hugging Face download cache.

    All three are also kept in :attr:`kwargs`, as in FlagEmbedding 1.4.2.
    """

    DEFAULT_POOLING_METHOD = "cls"
    ALLOWED_POOLING_METHODS: Tuple[str, ...] = POOLING_METHODS
    onnx_output: Optional[str] = "last_hidden_state"

    def __init__(
        self,
        model_name_or_path: str,
        *,
        pooling_method: str = "cls",
        trust_remote_code: bool = False,
        cache_dir: Optional[str] = None,
        **kwargs: Any,
    ):
        super().__init__(
            model_name_or_path,
            pooling_method=pooling_method,
            trust_remote_code=trust_remote_code,
            cache_dir=cache_dir,
            **kwargs,
        )
        self.check_pooling_method(pooling_method)
        self.pooling_method = pooling_method
        self.tokenizer = self.load_tokenizer()
        self.model = self.load_model()
        self.model.eval()

    def check_pooling_method(self, pooling_method: str) -> None:
        """Reject an unsupported ``pooling_method`` at construction."""
        check_pooling_method(pooling_method, self.ALLOWED_POOLING_METHODS)

    def load_model(self) -> torch.nn.Module:
        """Load the backbone in the dtype the target devices compute in."""
        return from_pretrained(
            AutoModel.from_pretrained, self.model_name_or_path,
            dtype=self.get_model_torch_dtype(),
            trust_remote_code=self.trust_remote_code, cache_dir=self.cache_dir,
        )

    def pooling(self, last_hidden_state: torch.Tensor, attention_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Pool ``[batch, seq, hidden]`` token states with this model's ``pooling_method``.

        ``attention_mask`` is required for ``mean`` and ``last_token``.
        """
        if attention_mask is None:
            if self.pooling_method != "cls":
                raise ValueError(f"`attention_mask` is required for pooling_method={self.pooling_method!r}.")
            attention_mask = torch.ones(last_hidden_state.shape[:2], device=last_hidden_state.device)
        return pool(last_hidden_state, attention_mask, self.pooling_method)

    def forward_hidden(self, model: torch.nn.Module, batch: Dict[str, torch.Tensor],
                       options: Dict[str, Any]) -> torch.Tensor:
        """The last hidden states of one padded batch."""
        return model(**batch, return_dict=True).last_hidden_state

    def embed_batch(self, model: torch.nn.Module, batch: Dict[str, torch.Tensor],
                    options: Dict[str, Any]) -> Union[torch.Tensor, Dict[str, Any]]:
        """Pooled, truncated and normalized vectors for one padded batch (BGE-M3's override: a dict of outputs)."""
        hidden = self.forward_hidden(model, batch, options)
        return self.finish_embeddings(self.pooling(hidden, batch["attention_mask"]))
