"""Pieces shared by the bundled layer-wise decoder models: score heads, layer selection, output type."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import torch
from torch import nn
from transformers.utils import ModelOutput

logger = logging.getLogger(__name__)


class LinearHead(nn.Module):
    """A bias-free ``Linear(hidden, 1)`` score head (weight name ``linear_head.weight``)."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.linear_head = nn.Linear(hidden_size, 1, bias=False)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """``[batch, seq, hidden]`` -> ``[batch, seq]``."""
        return self.linear_head(hidden_states).squeeze(-1)


def select_cutoff_layers(
    cutoff_layers: Union[None, int, Sequence[int]], valid_layers: Sequence[int], num_layers: int
) -> List[int]:
    """The requested layers that the checkpoint has heads for, sorted ascending and without duplicates.

    ``None`` means the last layer. Layers outside ``valid_layers`` are dropped with a warning; if none
    remain, ``ValueError`` names the valid interval.
    """
    if cutoff_layers is None:
        cutoff_layers = [num_layers]
    elif isinstance(cutoff_layers, int):
        cutoff_layers = [cutoff_layers]
    for layer in cutoff_layers:
        if isinstance(layer, bool) or not isinstance(layer, int):
            raise ValueError(f"`cutoff_layers` must be int layer numbers, got {layer!r}.")
    valid = set(valid_layers)
    removed = [layer for layer in cutoff_layers if layer not in valid]
    if removed:
        logger.warning("layers %s are incompatible with the setting. They will be removed...", removed)
    kept = sorted({layer for layer in cutoff_layers if layer in valid})
    if not kept:
        raise ValueError(
            f"Your cutoff layers must in [{min(valid_layers)}, {max(valid_layers)}]; got {list(cutoff_layers)}."
        )
    return kept


@dataclass
class LayerStatesOutput(ModelOutput):
    """Per selected layer (ascending): the final-norm hidden state and the attention mask it belongs to."""

    hidden_states: Optional[Tuple[torch.Tensor, ...]] = None
    attention_masks: Optional[Tuple[torch.Tensor, ...]] = None


@dataclass
class LayerWiseCausalLMOutput(ModelOutput):
    """Per selected layer (ascending): score logits ``[batch, seq]`` (fp32) and, for models that compress
    tokens, the attention mask those logits belong to."""

    logits: Optional[Tuple[torch.Tensor, ...]] = None
    attention_masks: Optional[Tuple[torch.Tensor, ...]] = None
    hidden_states: Optional[Tuple[torch.Tensor, ...]] = None
