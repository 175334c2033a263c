"""Arguments of decoder-only (LLM) reranker fine-tuning: the abstract ones plus LoRA options."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from FlagEmbedding.finetune.common.lora import LoraArguments
from FlagEmbedding.abc.finetune.reranker import AbsRerankerModelArguments


@dataclass
class DecoderOnlyRerankerModelArguments(AbsRerankerModelArguments, LoraArguments):
    """Model arguments plus LoRA (see :class:`~FlagEmbedding.finetune.common.lora.LoraArguments`) and
    ``raw_peft``. ``model_type`` keeps the default ``'encoder'``: pass ``--model_type decoder`` for the LLM
    data format."""

    raw_peft: Optional[List[str]] = field(
        default=None, metadata={"help": "Adapters merged into the base model (in order) before training."}
    )


#: FlagEmbedding 1.4.2's name of this class at this path
RerankerModelArguments = DecoderOnlyRerankerModelArguments
