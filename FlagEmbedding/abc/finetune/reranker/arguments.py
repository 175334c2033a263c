"""Command-line arguments of reranker fine-tuning (names and defaults are the CLI contract)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from FlagEmbedding.abc.finetune.common.arguments import (
    AbsDataArguments,
    AbsModelArguments,
    BaseTrainingArguments,
    env_token,
    unused_field,
)


@dataclass
class AbsRerankerModelArguments(AbsModelArguments):
    """Which model/tokenizer to start from and how to load them."""

    model_type: str = field(
        default="encoder", metadata={"help": "'encoder' builds cross-encoder pairs; anything else the LLM format."}
    )
    use_fast_tokenizer: bool = field(default=True, metadata={"help": "Prefer a fast (Rust) tokenizer."})
    token: Optional[str] = field(
        default_factory=env_token, metadata={"help": "Hub token (default: the HF_TOKEN environment variable)."}
    )


@dataclass
class AbsRerankerDataArguments(AbsDataArguments):
    """Training files, grouping, lengths and instructions."""

    query_max_len: int = field(default=32, metadata={"help": "Query token budget."})
    passage_max_len: int = field(default=128, metadata={"help": "Passage token budget."})
    max_len: int = unused_field(512, "lengths are set by --query_max_len and --passage_max_len.")
    pad_to_multiple_of: Optional[int] = field(default=None, metadata={"help": "Pad lengths to a multiple of this."})
    max_example_num_per_dataset: int = field(
        default=100000000, metadata={"help": "Keep a random subset of this many records per file."}
    )
    query_instruction_for_rerank: Optional[str] = field(
        default=None, metadata={"help": "Instruction for queries (a row's 'query_prompt' overrides it)."}
    )
    query_instruction_format: str = field(
        default="{}{}", metadata={"help": "Format of instruction and query; a typed \\n becomes a newline."}
    )
    knowledge_distillation: bool = field(
        default=False, metadata={"help": "Train towards teacher scores (pos_scores / neg_scores)."}
    )
    passage_instruction_for_rerank: Optional[str] = field(
        default=None, metadata={"help": "Instruction for passages (a row's 'passage_prompt' overrides it)."}
    )
    passage_instruction_format: str = field(
        default="{}{}", metadata={"help": "Format of instruction and passage; a typed \\n becomes a newline."}
    )
    shuffle_ratio: float = field(default=0.0, metadata={"help": "Chance of shuffling chunks of a long positive."})
    sep_token: str = field(default="\n", metadata={"help": "LLM format: separator between the parts."})


@dataclass
class AbsRerankerTrainingArguments(BaseTrainingArguments):
    """HF ``TrainingArguments`` plus ``sub_batch_size`` (unused, accepted for compatibility)."""

    sub_batch_size: Optional[int] = unused_field(None, "every group is scored in one forward pass.")
