"""Command-line arguments of embedder fine-tuning (names and defaults are the CLI contract)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from FlagEmbedding.abc.finetune.common.arguments import (
    AbsDataArguments,
    AbsModelArguments,
    BaseTrainingArguments,
    env_token,
)
from FlagEmbedding.utils.errors import InputError


@dataclass
class AbsEmbedderModelArguments(AbsModelArguments):
    """Which model/tokenizer to start from and how to load them."""

    use_fast_tokenizer: bool = field(default=True, metadata={"help": "Prefer a fast (Rust) tokenizer."})
    token: Optional[str] = field(
        default_factory=env_token, metadata={"help": "Hub token (default: the HF_TOKEN environment variable)."}
    )


@dataclass
class AbsEmbedderDataArguments(AbsDataArguments):
    """Training files, grouping, lengths and instructions."""

    query_max_len: int = field(default=32, metadata={"help": "Maximum query tokens (longer is truncated)."})
    passage_max_len: int = field(default=128, metadata={"help": "Maximum passage tokens (longer is truncated)."})
    pad_to_multiple_of: Optional[int] = field(default=None, metadata={"help": "Pad lengths to a multiple of this."})
    max_example_num_per_dataset: int = field(
        default=100000000, metadata={"help": "Keep a random subset of this many records per file."}
    )
    query_instruction_for_retrieval: Optional[str] = field(
        default=None, metadata={"help": "Instruction prepended to queries (a row's 'prompt' overrides it)."}
    )
    query_instruction_format: str = field(
        default="{}{}", metadata={"help": "Format of instruction and query; a typed \\n becomes a newline."}
    )
    knowledge_distillation: bool = field(
        default=False, metadata={"help": "Train towards teacher scores (pos_scores / neg_scores)."}
    )
    passage_instruction_for_retrieval: Optional[str] = field(
        default=None, metadata={"help": "Instruction prepended to passages."}
    )
    passage_instruction_format: str = field(
        default="{}{}", metadata={"help": "Format of instruction and passage; a typed \\n becomes a newline."}
    )
    shuffle_ratio: float = field(default=0.0, metadata={"help": "Chance of shuffling chunks of a long positive."})
    same_dataset_within_batch: bool = field(
        default=False, metadata={"help": "Draw every batch from a single training file."}
    )
    small_threshold: int = field(
        default=0, metadata={"help": "Same-dataset mode: pool folder files with fewer rows than this."}
    )
    drop_threshold: int = field(
        default=0, metadata={"help": "Same-dataset mode: drop a pooled dataset with fewer rows than this."}
    )
    eval_retrieval_dir: Optional[str] = field(
        default=None, metadata={"help": "BEIR-layout folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv): every "
                                        "evaluation (--eval_strategy steps --eval_steps N) logs ndcg_at_10 and "
                                        "recall_at_100 of the model being trained (dense search)."}
    )
    eval_retrieval_split: str = field(default="test", metadata={"help": "The qrels split of --eval_retrieval_dir."})


@dataclass
class AbsEmbedderTrainingArguments(BaseTrainingArguments):
    """HF ``TrainingArguments`` plus the contrastive-loss options."""

    negatives_cross_device: bool = field(
        default=False, metadata={"help": "Share passages across processes as extra negatives."}
    )
    temperature: Optional[float] = field(default=0.02, metadata={"help": "Scores are divided by this."})
    fix_position_embedding: bool = field(default=False, metadata={"help": "Freeze the position embeddings."})
    sentence_pooling_method: str = field(
        default="cls", metadata={"help": "Pooling of token states.", "choices": ["cls", "mean", "last_token"]}
    )
    normalize_embeddings: bool = field(default=True, metadata={"help": "L2-normalize embeddings."})
    sub_batch_size: Optional[int] = field(default=None, metadata={"help": "Encode in chunks of this many rows."})
    kd_loss_type: str = field(
        default="kl_div",
        metadata={"help": "Distillation loss.", "choices": ["kl_div", "m3_kd_loss"]},
    )
    use_mrl: bool = field(default=False, metadata={"help": "Matryoshka loss over mrl_dims prefixes."})
    mrl_dims: List[int] = field(default_factory=list, metadata={"help": "Embedding prefixes for the MRL loss."})
    gradient_cache: bool = field(
        default=False, metadata={"help": "Cached contrastive loss (GradCache): the loss of the whole batch with the "
                                         "activation memory of one chunk, for about one extra forward pass."}
    )
    gradient_cache_chunk_size: int = field(
        default=32, metadata={"help": "--gradient_cache: texts encoded at once (queries and passages separately)."}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.gradient_cache_chunk_size <= 0:
            raise InputError(f"--gradient_cache_chunk_size must be a positive number of texts, got "
                             f"{self.gradient_cache_chunk_size}; pass e.g. --gradient_cache_chunk_size 16.")
        if self.gradient_cache and (self.deepspeed or self.fsdp):
            raise InputError("--gradient_cache runs its own backward passes and supports DDP (torchrun) only; drop "
                             "--deepspeed / --fsdp or --gradient_cache.")
