"""The BGE-M3 network: an encoder backbone plus ColBERT and sparse heads (``colbert_linear.pt``, ``sparse_linear.pt``).

Shared by :class:`~FlagEmbedding.inference.embedder.encoder_only.m3.M3Embedder` and M3 fine-tuning.
"""
from __future__ import annotations

import copy
import logging
import os
from typing import Any, Iterable, Optional

import torch
from torch import nn
from transformers import AutoModel

from FlagEmbedding.utils.hub import from_pretrained, model_not_found, offline_if_unreachable
from FlagEmbedding.utils.pooling import pool

logger = logging.getLogger(__name__)

COLBERT_FILE = "colbert_linear.pt"
SPARSE_FILE = "sparse_linear.pt"


def resolve_local_snapshot(name_or_path: str, cache_dir: Optional[str] = None, token: Optional[str] = None) -> str:
    """Return a local folder for ``name_or_path``, downloading a Hub snapshot (no flax/rust/tf weights) if needed."""
    if os.path.isdir(name_or_path):
        return name_or_path
    from huggingface_hub import snapshot_download

    offline_if_unreachable()
    try:
        return snapshot_download(
            repo_id=name_or_path,
            cache_dir=cache_dir or os.environ.get("HF_HUB_CACHE"),
            ignore_patterns=["flax_model.msgpack", "rust_model.ot", "tf_model.h5"],
            token=token,
        )
    except Exception as error:  # noqa: BLE001 - every hub failure gets the same explanation
        raise model_not_found(name_or_path) from error


class M3Model(nn.Module):
    """Backbone + ``colbert_linear`` (hidden -> colbert_dim) + ``sparse_linear`` (hidden -> 1)."""

    def __init__(self, backbone: nn.Module, colbert_dim: int = -1):
        super().__init__()
        self.model = backbone
        hidden: int = getattr(backbone, "config").hidden_size  # a Hugging Face model's config
        dtype = next(backbone.parameters()).dtype
        self.colbert_linear = nn.Linear(hidden, colbert_dim if colbert_dim > 0 else hidden, dtype=dtype)
        self.sparse_linear = nn.Linear(hidden, 1, dtype=dtype)

    @property
    def config(self) -> Any:
        """The backbone's config (so ``model.config._name_or_path`` works as for plain HF models)."""
        return self.model.config

    @classmethod
    def from_pretrained(cls, name_or_path: str, colbert_dim: int = -1, dtype: Optional[torch.dtype] = None,
                        trust_remote_code: bool = False, cache_dir: Optional[str] = None,
                        token: Optional[str] = None) -> "M3Model":
        """Load the backbone and, when both head files exist in the folder, the two heads."""
        folder = resolve_local_snapshot(name_or_path, cache_dir, token)
        backbone = from_pretrained(AutoModel.from_pretrained, folder, dtype=dtype,
                                   trust_remote_code=trust_remote_code, cache_dir=cache_dir)
        model = cls(backbone, colbert_dim)
        model.load_heads(folder)
        return model

    def load_heads(self, folder: str) -> bool:
        """Load ``colbert_linear.pt`` and ``sparse_linear.pt`` (weights only) if both exist; report whether they did."""
        colbert, sparse = os.path.join(folder, COLBERT_FILE), os.path.join(folder, SPARSE_FILE)
        if not (os.path.exists(colbert) and os.path.exists(sparse)):
            logger.info("%s and %s not found in %s: the colbert and sparse heads are randomly initialized.",
                        COLBERT_FILE, SPARSE_FILE, folder)
            return False
        self.colbert_linear.load_state_dict(torch.load(colbert, map_location="cpu", weights_only=True))
        self.sparse_linear.load_state_dict(torch.load(sparse, map_location="cpu", weights_only=True))
        return True

    def save_heads(self, folder: str) -> None:
        """Write both heads as CPU state dicts (keys ``weight``, ``bias``)."""
        for name, head in ((COLBERT_FILE, self.colbert_linear), (SPARSE_FILE, self.sparse_linear)):
            state = {k: v.detach().cpu() for k, v in head.state_dict().items()}
            torch.save(state, os.path.join(folder, name))

    def with_backbone(self, backbone: nn.Module) -> "M3Model":
        """A shallow copy that shares the heads and runs ``backbone`` (e.g. an ONNX Runtime encoder) instead."""
        clone = copy.copy(self)
        clone._modules = {**self._modules, "model": backbone}
        return clone

    def hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        """Last hidden states of the backbone."""
        return self.model(input_ids=input_ids, attention_mask=attention_mask, return_dict=True, **kwargs).last_hidden_state

    @staticmethod
    def dense(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling_method: str = "cls") -> torch.Tensor:
        """Pooled sentence vectors (not normalized)."""
        return pool(hidden, attention_mask, pooling_method)

    def token_weights(self, hidden: torch.Tensor) -> torch.Tensor:
        """``relu(sparse_linear(h))``: one non-negative weight per token, shape ``[batch, seq]``."""
        return torch.relu(self.sparse_linear(hidden)).squeeze(-1)

    def colbert_vectors(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """``colbert_linear(h[:, 1:])`` masked by ``attention_mask[:, 1:]`` (not normalized)."""
        return self.colbert_linear(hidden[:, 1:]) * attention_mask[:, 1:, None].to(hidden.dtype)

    @staticmethod
    def sparse_embedding(token_weights: torch.Tensor, input_ids: torch.Tensor, vocab_size: int,
                         unused_token_ids: Iterable[Optional[int]]) -> torch.Tensor:
        """Vocabulary-size vectors holding, per token id, the max weight of its occurrences; unused ids zeroed."""
        out = torch.zeros(input_ids.shape[0], vocab_size, dtype=token_weights.dtype, device=token_weights.device)
        out = out.scatter_reduce(1, input_ids, token_weights, reduce="amax")
        ids = [i for i in unused_token_ids if i is not None]
        if ids:  # out of place, so training can backpropagate through scatter_reduce
            out = out.index_fill(1, torch.tensor(ids, device=out.device), 0.0)
        return out

    @staticmethod
    def colbert_scores(q_vecs: torch.Tensor, p_vecs: torch.Tensor, q_mask: torch.Tensor) -> torch.Tensor:
        """Pair-wise late-interaction scores: mean over query tokens (after CLS) of the max passage-token dot."""
        token_scores = torch.einsum("bqd,bpd->bqp", q_vecs, p_vecs).max(dim=-1).values
        return token_scores.sum(dim=1) / q_mask[:, 1:].sum(dim=1).to(token_scores.dtype)
