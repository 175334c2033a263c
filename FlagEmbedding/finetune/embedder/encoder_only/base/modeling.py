"""Encoder-only bi-encoder: an HF ``AutoModel`` with cls / mean / last-token pooling."""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import torch.nn.functional as F
from torch import Tensor
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from FlagEmbedding.abc.finetune.embedder import AbsEmbedderModel
from FlagEmbedding.utils.pooling import check_pooling_method, pool


class BiEncoderOnlyEmbedderModel(AbsEmbedderModel):
    """Dense embedder over ``last_hidden_state`` (see :class:`AbsEmbedderModel` for the losses).

    Args (beyond :class:`AbsEmbedderModel`):
        sentence_pooling_method: ``"cls"``, ``"mean"`` or ``"last_token"``.
    """

    def __init__(
        self,
        base_model: PreTrainedModel,
        tokenizer: Optional[PreTrainedTokenizerBase] = None,
        negatives_cross_device: bool = False,
        temperature: float = 1.0,
        sub_batch_size: int = -1,
        kd_loss_type: str = "kl_div",
        use_mrl: bool = False,
        mrl_dims: Optional[Sequence[int]] = None,
        sentence_pooling_method: str = "cls",
        normalize_embeddings: bool = False,
    ):
        super().__init__(
            base_model, tokenizer=tokenizer, negatives_cross_device=negatives_cross_device,
            temperature=temperature, sub_batch_size=sub_batch_size, kd_loss_type=kd_loss_type,
            use_mrl=use_mrl, mrl_dims=mrl_dims, normalize_embeddings=normalize_embeddings,
        )
        self.sentence_pooling_method = check_pooling_method(sentence_pooling_method)

    def encode_batch(self, features: Dict[str, Tensor]) -> Tensor:
        """Pooled (and optionally L2-normalized) last hidden states."""
        hidden = self.model(**features, return_dict=True).last_hidden_state
        reps = pool(hidden, features["attention_mask"], self.sentence_pooling_method)
        if self.normalize_embeddings:
            reps = F.normalize(reps, dim=-1)
        return reps.contiguous()
