"""Decoder-only reranker: the logit of ``Yes`` at the last position of ``query sep passage sep prompt``."""
from __future__ import annotations

import inspect
from typing import Dict, Optional, overload

import torch
from torch import Tensor, nn
from transformers import PreTrainedTokenizerBase

from FlagEmbedding.abc.finetune.reranker import AbsRerankerModel
from FlagEmbedding.utils.pooling import last_token_indices


def unwrap_peft(model: nn.Module) -> nn.Module:
    """The underlying transformers model of a peft model (adapters stay injected), else ``model``."""
    get_base_model = getattr(model, "get_base_model", None)
    return get_base_model() if callable(get_base_model) else model


class DecoderOnlyRerankerModel(AbsRerankerModel):
    """LLM reranker: a causal LM (usually with LoRA) scoring each pair by its ``Yes`` logit at the last token.

    Args (see :class:`AbsRerankerModel`): ``base_model`` is an ``AutoModelForCausalLM`` (or its peft model).
    """

    def __init__(self, base_model: nn.Module, tokenizer: Optional[PreTrainedTokenizerBase] = None,
                 train_batch_size: int = 4, train_group_size: Optional[int] = None):
        super().__init__(base_model, tokenizer=tokenizer, train_batch_size=train_batch_size,
                         train_group_size=train_group_size)
        forward = unwrap_peft(base_model).forward
        self._keeps_last_logits = "logits_to_keep" in inspect.signature(forward).parameters

    @overload
    def encode(self, features: Dict[str, Tensor]) -> Tensor: ...

    @overload
    def encode(self, features: None) -> None: ...

    def encode(self, features: Optional[Dict[str, Tensor]]) -> Optional[Tensor]:
        """``Yes`` logit (fp32) at each row's last real token; only the last position's logits are computed
        when every row ends there (left padding)."""
        if features is None:
            return None
        mask = features["attention_mask"]
        if self._keeps_last_logits and bool(mask[:, -1].all()):
            logits = self.model(**features, logits_to_keep=1).logits[:, -1]
        else:
            logits = self.model(**features).logits
            logits = logits[torch.arange(logits.shape[0], device=logits.device), last_token_indices(mask)]
        return logits[:, self.yes_loc].float()


#: FlagEmbedding 1.4.2's name of this class at this path
CrossDecoderModel = DecoderOnlyRerankerModel
