"""Reranker training wrapper: group-wise cross-entropy (positive first) plus optional teacher distillation."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers import PreTrainedTokenizerBase
from transformers.utils import ModelOutput

from FlagEmbedding.abc.finetune.common.modeling import HFModelWrapperMixin, cpu_state_dict, soft_cross_entropy
from FlagEmbedding.utils.reranker_inputs import yes_token_id


@dataclass
class RerankerOutput(ModelOutput):
    """``loss`` (None in eval mode) and the flat ``scores`` (one per pair)."""

    loss: Optional[Tensor] = None
    scores: Optional[Tensor] = None


class AbsRerankerModel(HFModelWrapperMixin, nn.Module, ABC):
    """Subclasses implement :meth:`encode` (padded pairs -> one logit per pair).

    The batch's group size is ``train_group_size`` when given, else ``#pairs / train_batch_size`` (as in
    FlagEmbedding 1.4.2); the number of queries is always derived from the input, so a short last batch works.

    Args:
        base_model: The HF model being trained (``self.model``).
        tokenizer: Its tokenizer (saved with the model; ``yes_loc`` is
            :func:`~FlagEmbedding.utils.reranker_inputs.yes_token_id`, as in inference).
        train_batch_size: Queries per device batch (``per_device_train_batch_size``).
        train_group_size: Passages per query.
    """

    def __init__(
        self,
        base_model: Any,
        tokenizer: Optional[PreTrainedTokenizerBase] = None,
        train_batch_size: int = 4,
        train_group_size: Optional[int] = None,
    ):
        super().__init__()
        self.model = base_model
        self.tokenizer = tokenizer
        self.train_batch_size = train_batch_size
        self.train_group_size = train_group_size
        config = getattr(base_model, "config", None)
        if config is not None and getattr(config, "pad_token_id", None) is None and tokenizer is not None:
            config.pad_token_id = tokenizer.pad_token_id
        self.config = config
        self.yes_loc = None
        if tokenizer is not None:
            self.yes_loc = yes_token_id(tokenizer)

    @abstractmethod
    def encode(self, features: Dict[str, Tensor]) -> Tensor:
        """One score (logit) per pair."""

    def compute_loss(self, scores: Tensor, target: Tensor) -> Tensor:
        """Mean cross-entropy."""
        return F.cross_entropy(scores, target)

    def group_scores(self, scores: Tensor) -> Tensor:
        """Flat scores as ``(queries, group)``."""
        flat = scores.reshape(-1)
        group_size = self.train_group_size or flat.numel() // self.train_batch_size
        if flat.numel() % group_size:
            raise ValueError(f"{flat.numel()} pair scores cannot be split into groups of {group_size}.")
        return flat.view(-1, group_size)

    def forward(self, pair: Optional[Dict[str, Tensor]] = None,
                teacher_scores: Optional[Sequence[float]] = None) -> RerankerOutput:
        """CE towards the first pair of each group (+ soft-CE towards the teacher's softmax)."""
        # a missing pair goes to encode() as in FlagEmbedding 1.4.2: the decoder-only rerankers' encode() takes
        # None (scores None in eval mode); this class's contract is a dict
        scores = self.encode(cast(Dict[str, Tensor], pair))
        if not self.training:
            return RerankerOutput(loss=None, scores=scores)
        grouped = self.group_scores(scores)
        target = torch.zeros(grouped.size(0), dtype=torch.long, device=grouped.device)
        loss = self.compute_loss(grouped, target)
        if teacher_scores is not None:
            teacher = torch.as_tensor(teacher_scores, dtype=torch.float32, device=grouped.device)
            loss = loss + soft_cross_entropy(torch.softmax(teacher.view(grouped.size(0), -1), dim=-1), grouped)
        return RerankerOutput(loss=loss, scores=scores)

    def save(self, output_dir: str) -> None:
        """``save_pretrained`` of the HF model with a CPU copy of its state dict."""
        self.model.save_pretrained(output_dir, state_dict=cpu_state_dict(self.model))

    def save_pretrained(self, *args: Any, **kwargs: Any) -> Any:
        """Save the tokenizer and the HF model (a loadable checkpoint folder)."""
        assert self.tokenizer is not None, "save_pretrained() needs the model's tokenizer"
        self.tokenizer.save_pretrained(*args, **kwargs)
        return self.model.save_pretrained(*args, **kwargs)
