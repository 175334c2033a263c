"""Cross-encoder reranker: an HF sequence classifier with one output."""
from __future__ import annotations

from typing import Dict

from torch import Tensor

from FlagEmbedding.abc.finetune.reranker import AbsRerankerModel


class CrossEncoderModel(AbsRerankerModel):
    """Scores each (query, passage) pair with the classifier's single logit."""

    def encode(self, features: Dict[str, Tensor]) -> Tensor:
        """Logits of the padded pairs, ``(pairs, 1)``."""
        return self.model(**features, return_dict=True).logits
