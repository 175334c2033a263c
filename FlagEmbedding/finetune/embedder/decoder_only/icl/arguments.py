"""Arguments of in-context-learning (ICL) embedder fine-tuning."""
from __future__ import annotations

from dataclasses import dataclass, field

from FlagEmbedding.abc.finetune.common.arguments import unescape_fields
from FlagEmbedding.abc.finetune.embedder import AbsEmbedderDataArguments
from FlagEmbedding.finetune.embedder.decoder_only.base.arguments import (
    DecoderOnlyEmbedderModelArguments,
    DecoderOnlyEmbedderTrainingArguments,
)

DecoderOnlyEmbedderICLModelArguments = DecoderOnlyEmbedderModelArguments
DecoderOnlyEmbedderICLTrainingArguments = DecoderOnlyEmbedderTrainingArguments


@dataclass
class DecoderOnlyEmbedderICLDataArguments(AbsEmbedderDataArguments):
    """Data arguments plus the in-context example budgets and the query suffix."""

    example_query_max_len: int = field(default=64, metadata={"help": "Tokens kept of an example's query."})
    example_passage_max_len: int = field(default=96, metadata={"help": "Tokens kept of an example's answer."})
    retrieval_use_examples: bool = field(
        default=True, metadata={"help": "Give non-symmetric (retrieval) queries in-context examples too."}
    )
    icl_suffix_str: str = field(
        default="\nResponse:",
        metadata={"help": "Appended to every query (and symmetric passage); a typed \\n becomes a newline."},
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        unescape_fields(self, ("icl_suffix_str",))
