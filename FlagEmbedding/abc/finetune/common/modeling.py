"""What every training wrapper (embedder or reranker) shares: the HF model plumbing and soft cross-entropy."""
from __future__ import annotations

from typing import Any, Dict

import torch
from torch import Tensor, nn


def soft_cross_entropy(teacher_targets: Tensor, student_scores: Tensor) -> Tensor:
    """``-mean_i sum_j teacher_ij * log_softmax(student)_ij`` (FlagEmbedding 1.4.2 calls it ``kl_div``)."""
    return -torch.mean(torch.sum(torch.log_softmax(student_scores, dim=-1) * teacher_targets, dim=-1))


def cpu_state_dict(module: nn.Module) -> Dict[str, Tensor]:
    """A CPU copy of ``module.state_dict()`` (keeps the dict type)."""
    state_dict = module.state_dict()
    return type(state_dict)({key: value.clone().cpu() for key, value in state_dict.items()})


class HFModelWrapperMixin:
    """Forwards checkpointing switches to ``self.model`` and tells the trainer how to resume.

    ``self.model`` is the trained HF (or PEFT) model.
    """

    model: Any

    def gradient_checkpointing_enable(self, **kwargs: Any) -> None:
        """Forward to the HF model (the name older transformers and FlagEmbedding 1.4.2 use)."""
        self.model.gradient_checkpointing_enable(**kwargs)

    def activation_checkpointing_enable(self, **kwargs: Any) -> None:
        """Forward to the HF model (the name recent transformers' Trainer calls)."""
        self.model.activation_checkpointing_enable(**kwargs)

    def enable_input_require_grads(self, **kwargs: Any) -> None:
        """Forward to the HF model (inputs need grads for checkpointing with frozen embeddings)."""
        self.model.enable_input_require_grads(**kwargs)

    def checkpoint_model(self) -> nn.Module:
        """The module whose weights a checkpoint folder holds (resuming loads into it)."""
        return self.model

    def load_extra_checkpoint_files(self, checkpoint_dir: str) -> None:
        """Restore weights saved beside the HF files when resuming (none by default)."""
