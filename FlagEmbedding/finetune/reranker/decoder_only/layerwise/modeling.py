"""Layer-wise LLM reranker training model: every selected layer's head is scored and trained."""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple, overload

import torch
from torch import Tensor, nn
from transformers import PreTrainedConfig, PreTrainedTokenizerBase

from FlagEmbedding.abc.finetune.common.modeling import soft_cross_entropy
from FlagEmbedding.abc.finetune.reranker import AbsRerankerModel, RerankerOutput
from FlagEmbedding.finetune.reranker.decoder_only.base.modeling import unwrap_peft
from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.pooling import last_token_indices


class DecoderOnlyRerankerLayerWiseModel(AbsRerankerModel):
    """Layer-wise reranker over the bundled MiniCPM model (``forward(..., cutoff_layers=...)``).

    Layers ``start_layer .. num_hidden_layers`` are all scored (each by its own head, at the last token).
    Loss, summed over layers: CE towards the positive; plus, without teacher scores, soft-CE from the detached
    last layer's softmax to every other layer, or, with teacher scores, soft-CE from the teacher's softmax to
    every layer. ``encode`` / eval scores are the last layer's.

    Args (beyond :class:`AbsRerankerModel`):
        start_layer: First scored layer (the model's ``config.start_layer``).
    """

    def __init__(self, base_model: nn.Module, tokenizer: Optional[PreTrainedTokenizerBase] = None,
                 train_batch_size: int = 4, start_layer: int = 8, train_group_size: Optional[int] = None):
        super().__init__(base_model, tokenizer=tokenizer, train_batch_size=train_batch_size,
                         train_group_size=train_group_size)
        config = unwrap_peft(base_model).config
        assert isinstance(config, PreTrainedConfig)  # an HF (MiniCPM layer-wise) model
        num_layers: int = config.num_hidden_layers
        if not 0 <= start_layer <= num_layers:
            raise InputError(f"start_layer must be in [0, {num_layers}], got {start_layer}.")
        self.start_layer = start_layer
        self.cutoff_layers: List[int] = list(range(start_layer, num_layers + 1))

    def layer_scores(self, features: Dict[str, Tensor]) -> Tuple[Tensor, ...]:
        """Per selected layer (ascending): each pair's logit at its last real token (fp32)."""
        outputs = unwrap_peft(self.model)(**features, cutoff_layers=self.cutoff_layers)
        rows = torch.arange(features["input_ids"].shape[0], device=features["input_ids"].device)
        last = last_token_indices(features["attention_mask"])
        return tuple(logits[rows, last].float() for logits in outputs.logits)

    @overload
    def encode(self, features: Dict[str, Tensor]) -> Tensor: ...

    @overload
    def encode(self, features: None) -> None: ...

    def encode(self, features: Optional[Dict[str, Tensor]]) -> Optional[Tensor]:
        """The last layer's scores."""
        return None if features is None else self.layer_scores(features)[-1]

    def forward(self, pair: Optional[Dict[str, Tensor]] = None,
                teacher_scores: Optional[Sequence[float]] = None) -> RerankerOutput:
        """Loss summed over all selected layers (see the class docstring)."""
        assert pair is not None  # the trainer always passes the collated pairs
        per_layer = self.layer_scores(pair)
        if not self.training:
            return RerankerOutput(loss=None, scores=per_layer[-1])
        grouped = [self.group_scores(scores) for scores in per_layer]
        target = torch.zeros(grouped[0].size(0), dtype=torch.long, device=grouped[0].device)
        loss = torch.stack([self.compute_loss(scores, target) for scores in grouped]).sum()
        if teacher_scores is None:
            targets = torch.softmax(grouped[-1].detach(), dim=-1)
            students = grouped[:-1]
        else:
            teacher = torch.as_tensor(teacher_scores, dtype=torch.float32, device=target.device)
            targets = torch.softmax(teacher.view(grouped[0].size(0), -1), dim=-1)
            students = grouped
        for scores in students:
            loss = loss + soft_cross_entropy(targets, scores)
        return RerankerOutput(loss=loss, scores=per_layer[-1])


#: FlagEmbedding 1.4.2's name of this class at this path
CrossDecoderModel = DecoderOnlyRerankerLayerWiseModel
