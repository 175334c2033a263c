"""Decoder-only bi-encoder: a causal LM backbone (usually with LoRA adapters), last-token pooling."""
from __future__ import annotations

from typing import Optional, Sequence

from torch import nn
from transformers import PreTrainedTokenizerBase

from FlagEmbedding.abc.finetune.embedder import PooledEmbedderModel


class BiDecoderOnlyEmbedderModel(PooledEmbedderModel):
    """Dense embedder over a decoder's last hidden states; pooling defaults to ``last_token`` (the constructor
    is declared only for that default, part of the public signature).

    ``save`` writes adapter files when the model is a peft model, full weights otherwise.
    """

    def __init__(
        self,
        base_model: nn.Module,
        tokenizer: Optional[PreTrainedTokenizerBase] = None,
        negatives_cross_device: bool = False,
        temperature: float = 1.0,
        sub_batch_size: int = -1,
        kd_loss_type: str = "kl_div",
        use_mrl: bool = False,
        mrl_dims: Optional[Sequence[int]] = None,
        sentence_pooling_method: str = "last_token",
        normalize_embeddings: bool = False,
    ):
        super().__init__(
            base_model, tokenizer=tokenizer, negatives_cross_device=negatives_cross_device,
            temperature=temperature, sub_batch_size=sub_batch_size, kd_loss_type=kd_loss_type,
            sentence_pooling_method=sentence_pooling_method, normalize_embeddings=normalize_embeddings,
            use_mrl=use_mrl, mrl_dims=mrl_dims,
        )
