"""Command-line arguments of reranker fine-tuning (names and defaults are the CLI contract)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from FlagEmbedding.abc.finetune.common.arguments import (
    BaseTrainingArguments,
    check_train_data_paths,
    env_token,
    unescape_fields,
)


@dataclass
class AbsRerankerModelArguments:
    """Which model/tokenizer to start from and how to load them."""

    model_name_or_path: str = field(metadata={"help": "Local folder or hub id of the model to fine-tune."})
    config_name: Optional[str] = field(default=None, metadata={"help": "Config name or path if not the model's."})
    tokenizer_name: Optional[str] = field(
        default=None, metadata={"help": "Tokenizer name or path if not the model's."}
    )
    cache_dir: Optional[str] = field(default=None, metadata={"help": "Where downloaded models are cached."})
    trust_remote_code: bool = field(default=False, metadata={"help": "Trust remote code when loading."})
    model_type: str = field(
        default="encoder", metadata={"help": "'encoder' builds cross-encoder pairs; anything else the LLM format."}
    )
    use_fast_tokenizer: bool = field(default=True, metadata={"help": "Prefer a fast (Rust) tokenizer."})
    token: Optional[str] = field(
        default_factory=env_token, metadata={"help": "Hub token (default: the HF_TOKEN environment variable)."}
    )


@dataclass
class AbsRerankerDataArguments:
    """Training files, grouping, lengths and instructions."""

    train_data: Optional[List[str]] = field(
        default=None, metadata={"help": "Training files (.json/.jsonl) or folders of them.", "nargs": "+"}
    )
    cache_path: Optional[str] = field(default=None, metadata={"help": "Cache folder of the datasets builder."})
    train_group_size: int = field(default=8, metadata={"help": "Passages per query: 1 positive + G-1 negatives."})
    query_max_len: int = field(default=32, metadata={"help": "Query token budget."})
    passage_max_len: int = field(default=128, metadata={"help": "Passage token budget."})
    max_len: int = field(default=512, metadata={"help": "Unused (kept for command-line compatibility)."})
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

    def __post_init__(self) -> None:
        check_train_data_paths(self.train_data)
        unescape_fields(self, ("query_instruction_format", "passage_instruction_format"))


@dataclass
class AbsRerankerTrainingArguments(BaseTrainingArguments):
    """HF ``TrainingArguments`` plus ``sub_batch_size`` (unused, accepted for compatibility)."""

    sub_batch_size: Optional[int] = field(default=None, metadata={"help": "Unused (kept for compatibility)."})
