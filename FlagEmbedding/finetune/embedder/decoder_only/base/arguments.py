"""Arguments of decoder-only embedder fine-tuning: the abstract ones plus LoRA / tokenizer options."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from FlagEmbedding.abc.finetune.common.arguments import unused_field
from FlagEmbedding.finetune.common.lora import LoraArguments
from FlagEmbedding.abc.finetune.embedder import (
    AbsEmbedderDataArguments,
    AbsEmbedderModelArguments,
    AbsEmbedderTrainingArguments,
)


@dataclass
class DecoderOnlyEmbedderModelArguments(AbsEmbedderModelArguments, LoraArguments):
    """Model arguments plus LoRA (see :class:`~FlagEmbedding.finetune.common.lora.LoraArguments`),
    ``raw_peft``, added special tokens and merging options."""

    peft_model_path: str = unused_field("", "continue from an adapter with --from_peft.")
    use_slow_tokenizer: bool = unused_field(False, "the tokenizer is chosen by --use_fast_tokenizer.")
    raw_peft: Optional[str] = field(
        default=None, metadata={"help": "Adapter merged into the base model before training."}
    )
    additional_special_tokens: Optional[List[str]] = field(
        default=None, metadata={"help": "Special tokens to add (new ones grow the embeddings).", "nargs": "+"}
    )
    only_merge_lora_model: bool = field(
        default=False, metadata={"help": "Skip training; only merge the adapter in output_dir into merged_model/."}
    )


DecoderOnlyEmbedderDataArguments = AbsEmbedderDataArguments
DecoderOnlyEmbedderTrainingArguments = AbsEmbedderTrainingArguments
